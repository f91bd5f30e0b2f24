import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UiServer } from '../app/ui/ui-server';
import { repoRoot } from './helpers/flow-process';

/**
 * Damaged files in a store (a truncated write, another shape, a half-written
 * line) are named, with what is wrong and how to repair them, by every
 * reader: the UI shows the message on the page instead of a 500, the monitor
 * fails with it, and a damaged prediction-log line is skipped and counted.
 */
const model = 'digits';

function record(i: number): string {
  const probabilities = Array.from({ length: 10 }, (_, k) => (k === i % 10 ? 0.4 : 0.6 / 9));
  return JSON.stringify({ time: `2026-12-07T10:00:0${i}.000Z`, requestId: `req-${i}`, model, version: 1, shape: [28, 28], pixels: Buffer.alloc(784, i * 20).toString('base64'), probabilities, label: i % 10 });
}

async function page(ui: UiServer, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${ui.url}${path}`);
  return { status: res.status, text: await res.text() };
}

const unescape = (html: string) => html.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>');

describe('the UI names a damaged file on the page (real HTTP)', () => {
  let store: string;
  let ui: UiServer;
  const latest = () => join(store, 'monitoring', model, 'latest.json');
  beforeAll(async () => {
    store = await mkdtemp(join(tmpdir(), 'dagwright-damaged-'));
    await mkdir(join(store, 'monitoring', model), { recursive: true });
    ui = new UiServer({ store, port: 0, readOnly: true });
    await ui.start();
  });
  afterAll(() => ui.stop());

  it('a truncated latest.json: the serving page says so and how to repair it, not "not in this store"', async () => {
    const truncated = '{"time":"2026-12-07T10:00:00Z","model":"digits","vers';
    await writeFile(latest(), truncated);
    const { status, text } = await page(ui, `/serving?model=${model}`);
    expect(status).toBe(200);
    const shown = unescape(text);
    expect(shown).toContain(`${latest()} is damaged: it is not valid JSON`);
    expect(shown).toContain('Remove it: the next drift check (flows/monitor.ts) writes it again');
    expect(shown).not.toContain('is not in this store');
    expect(await readFile(latest(), 'utf8')).toBe(truncated); // left for the person to look at
  });

  it('a latest.json of the wrong shape: the serving page names the field instead of a 500', async () => {
    await writeFile(latest(), JSON.stringify({ time: '2026-12-07T10:00:00Z', model, version: 1, drift: true, tests: 'none' }));
    const { status, text } = await page(ui, `/serving?model=${model}`);
    expect(status).toBe(200);
    expect(unescape(text)).toContain(`${latest()} is damaged: "tests" is not an array`);
  });

  it('a half-written prediction-log line: the labelling page skips and counts it and shows every other record', async () => {
    await writeFile(latest(), JSON.stringify({ time: '2026-12-07T10:00:00Z', model, version: 1, drift: false, tests: [], window: { kind: 'prediction-log', count: 0 }, report: '', html: '' }));
    const chunk = join(store, 'serving', model, 'predictions', '2026-12-07', 'w1-000001.jsonl');
    await mkdir(join(chunk, '..'), { recursive: true });
    await writeFile(chunk, `${[0, 1, 2].map(record).join('\n')}\n${record(3).slice(0, 60)}`);
    const { status, text } = await page(ui, `/labelling?model=${model}`);
    expect(status).toBe(200);
    expect(unescape(text)).toContain(`${chunk}: 1 damaged line(s) skipped`);
    expect(text.match(/data-request-id="req-\d"/g)?.sort()).toEqual(['data-request-id="req-0"', 'data-request-id="req-1"', 'data-request-id="req-2"']);
  });
});

/** `dagwright ...` through the package's bin, as a user or cron runs it. */
function dagwright(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(repoRoot, 'bin/dagwright.js'), ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('the monitor names a damaged drift reference (real process)', () => {
  it('an unparsable manifest.json fails the check with the file, the problem and the repair; the reference is left as it was', async () => {
    const store = await mkdtemp(join(tmpdir(), 'dagwright-damaged-ref-'));
    const reference = join(store, 'registry', model, 'drift-reference', '1');
    await mkdir(reference, { recursive: true });
    const damaged = '{"formatVersion":1,"tensors":{"probabilities":{"file":"probab';
    await writeFile(join(reference, 'manifest.json'), damaged);
    const result = await dagwright(['run', 'tasks/drift/check-task.ts', 'DriftCheck', '--store', store, '--model-name', model, '--version', '1', '--executor', 'inprocess']);
    expect(result.code, result.stderr.slice(-2000)).toBe(1);
    expect(result.stderr).toContain(`${join(reference, 'manifest.json')} is damaged: it is not valid JSON`);
    expect(result.stderr).toContain(`Remove the folder ${reference}: the task that wrote it writes it again on the next run`);
    expect(result.stderr).not.toMatch(/^\s+at /m); // no stack trace
    expect(await readFile(join(reference, 'manifest.json'), 'utf8')).toBe(damaged);
  }, 60_000);
});
