/**
 * A secret parameter reaches a TypeScript step in a container without
 * appearing on the step's command line as `docker inspect` shows it (Path,
 * Args, Config.Cmd, Config.Entrypoint) to anyone who can list containers:
 * every container made while the flow runs is inspected the moment the
 * engine reports it created, and the step proves it got the value.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeDocker } from './helpers/docker';
import { runFlowProcess } from './helpers/flow-process';

interface Inspected {
  Id: string;
  Path: string;
  Args: string[];
  Config: { Cmd: string[] | null; Entrypoint: string[] | null; Labels: Record<string, string> };
}

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** Inspects every container the engine creates until stopped (`docker events`; each inspected at once, before a step can end). */
function inspectCreatedContainers(): { stop: () => Promise<Inspected[]> } {
  const inspected: Promise<Inspected | undefined>[] = [];
  const events: ChildProcess = spawn('docker', ['events', '--filter', 'type=container', '--filter', 'event=create', '--format', '{{.ID}}'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let pending = '';
  events.stdout!.on('data', (d) => {
    pending += d;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const id of lines.filter(Boolean)) {
      const out = spawnSync('docker', ['inspect', id], { encoding: 'utf8' });
      inspected.push(Promise.resolve(out.status === 0 ? (JSON.parse(out.stdout) as Inspected[])[0] : undefined));
    }
  });
  return {
    stop: async () => {
      events.kill();
      return (await Promise.all(inspected)).filter((c): c is Inspected => c !== undefined);
    },
  };
}

describeDocker('secret parameters and docker inspect', () => {
  it("a secret parameter reaches the container step, and no container's command line shows it", async () => {
    const store = await mkdtemp(join(tmpdir(), 'dagwright-secret-inspect-'));
    dirs.push(store);
    const secret = `tok-inspect-${process.pid}-9d9d9d`;
    const watcher = inspectCreatedContainers();
    await new Promise((r) => setTimeout(r, 300)); // `docker events` is listening
    const result = await runFlowProcess('test/fixtures/core-flow.ts', ['--executor', 'docker', '--store', store, '--mode', 'echo', '--offset', '3', '--token', secret]);
    const containers = await watcher.stop();
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    const file = (await readdir(store)).find((f) => f.startsWith('echo-'))!;
    const echoed = JSON.parse(await readFile(join(store, file), 'utf8'));
    expect(echoed).toMatchObject({ offset: 3, tokenLength: secret.length, argvHasToken: false });
    expect(echoed.host).not.toBe(hostname());
    // The step's own container was seen (other engineers' containers may be too: all are checked).
    const steps = containers.filter((c) => c.Config.Labels?.['dagwright.task-id']?.startsWith('Echo_'));
    expect(steps.length).toBeGreaterThanOrEqual(1);
    for (const c of containers) {
      const commandLine = JSON.stringify([c.Path, c.Args, c.Config.Cmd, c.Config.Entrypoint]);
      expect(commandLine, `container ${c.Id.slice(0, 12)}`).not.toContain(secret);
    }
    expect(JSON.stringify(steps.map((c) => c.Args))).toContain('--run-task');
    expect(result.stderr).not.toContain(secret);
  }, 180_000);
});
