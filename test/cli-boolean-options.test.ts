/**
 * Boolean options take both forms everywhere, through real processes: a
 * flow parameter (`--shout`, `--no-shout`, `--shout true|false`,
 * `--shout=true|false`, `--no-shout=false`), the standard options
 * (`--dry-run=true`), `flows/monitor.ts --retrain false` as its `--help`
 * says, and `dagwright` commands (`runs list --json true|false`); anything
 * but true or false is a usage error naming the option (exit 2).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFlowProcess } from './helpers/flow-process';

const flow = 'test/fixtures/boolean-flow.ts';
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dagwright-boolean-options-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the flow in a fresh store with `args`; which greeting files it wrote. */
async function greetingsFor(args: string[]): Promise<string[]> {
  const store = join(dir, `s${Math.random().toString(36).slice(2)}`);
  const result = await runFlowProcess(flow, ['--store', store, '--executor', 'inprocess', ...args]);
  expect(result.code, result.stderr).toBe(0);
  return (await readdir(store)).filter((name) => name.startsWith('greeting-'));
}

describe('boolean options', () => {
  it('a flow parameter: every form sets it; the default holds without one', async () => {
    const forms: [string[], boolean][] = [
      [[], true],
      [['--shout'], true],
      [['--no-shout'], false],
      [['--shout', 'false'], false],
      [['--shout', 'true'], true],
      [['--shout=false'], false],
      [['--no-shout=false'], true],
    ];
    for (const [args, shout] of forms) expect(await greetingsFor(args), args.join(' ')).toEqual([`greeting-${shout}.txt`]);
  });

  it('anything else is a usage error naming the option, nothing written', async () => {
    const store = join(dir, 'refused');
    const result = await runFlowProcess(flow, ['--store', store, '--shout=maybe']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--shout got "maybe"; expected true or false');
    expect(await readdir(store).catch(() => [])).toEqual([]);
  });

  it('a standard option (--dry-run=true, --dry-run false) and the help text', async () => {
    const store = join(dir, 'dry');
    const dry = await runFlowProcess(flow, ['--store', store, '--executor', 'inprocess', '--dry-run=true']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('Greeting');
    expect(await readdir(store).catch(() => [])).toEqual([]);
    expect(await greetingsFor(['--dry-run', 'false', '--shout', 'false'])).toEqual(['greeting-false.txt']);
    const help = await runFlowProcess('flows/monitor.ts', ['--help']);
    expect(help.stdout).toMatch(/--\[no-\]retrain \[true\|false\]/);
  });

  it('flows/monitor.ts takes --retrain false as its help says (checked before anything runs)', async () => {
    // A bad value next to it shows the option parsed: only --size is refused.
    const result = await runFlowProcess('flows/monitor.ts', ['--retrain', 'false', '--store', join(dir, 'monitor'), '--size', 'many']);
    expect(result.code).toBe(2);
    expect(result.stderr).not.toMatch(/retrain/);
    expect(result.stderr).toMatch(/size/);
  });

  it('dagwright commands: runs list --json true|false', async () => {
    const store = join(dir, 'runs');
    await runFlowProcess(flow, ['--store', store, '--executor', 'inprocess']);
    const json = await runFlowProcess('app/cli/main.ts', ['runs', 'list', '--store', store, '--json', 'true']);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toHaveLength(1);
    const text = await runFlowProcess('app/cli/main.ts', ['runs', 'list', '--store', store, '--json=false']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/boolean/);
    expect(() => JSON.parse(text.stdout)).toThrow();
    const bad = await runFlowProcess('app/cli/main.ts', ['runs', 'list', '--store', store, '--json=yes']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--json got "yes"; expected true or false');
  });
});
