import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDockerClient, Labels as DockerLabels } from '../src/executors/docker';
import { describeDocker } from './helpers/docker';
import { runFlowProcess, startFlow } from './helpers/flow-process';

async function filesUnder(dir: string, root = dir): Promise<Record<string, Buffer>> {
  const out: Record<string, Buffer> = {};
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.name.startsWith('_')) continue; // run history and locks, not outputs
    if (e.isDirectory()) Object.assign(out, await filesUnder(path, root));
    else out[relative(root, path)] = await readFile(path);
  }
  return out;
}

const summaryOf = (logs: Record<string, unknown>[]) => logs.find((l) => l.msg === 'run summary') as Record<string, any>;

describe('--executor docker without an engine', () => {
  const noEngine = { DOCKER_HOST: 'unix:///tmp/dagwright-no-engine.sock' };

  it('fails at once with exit 2 and says how to start one', async () => {
    const store = await mkdtemp(join(tmpdir(), 'dagwright-noengine-'));
    const result = await runFlowProcess('examples/daily-report.ts', ['--day', '2026-11-01', '--store', store, '--executor', 'docker'], noEngine);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no Docker engine answers at unix:///tmp/dagwright-no-engine.sock');
    expect(result.stderr).toContain('.ci/docker-up');
    expect(result.stderr).toContain('sudo systemctl start docker');
    expect(await readdir(store)).toEqual([]); // a usage error writes nothing: no outputs, no locks, no run record
  });

  it('--executor auto runs in process and says so once', async () => {
    const store = await mkdtemp(join(tmpdir(), 'dagwright-noengine-'));
    const result = await runFlowProcess('examples/daily-report.ts', ['--day', '2026-11-01', '--store', store], noEngine);
    expect(result.code).toBe(0);
    expect(result.logs.filter((l) => String(l.msg).includes('running tasks in process'))).toHaveLength(1);
    expect(summaryOf(result.logs).ran.every((r: { executor: string }) => r.executor === 'inprocess')).toBe(true);
  });
});

describeDocker('flows with --executor docker', () => {
  const docker = createDockerClient();

  it('runs every task of a TypeScript flow in a container, with the same bytes as in process', async () => {
    const args = ['--day', '2026-11-01', '--days', '3', '--workers', '2'];
    const [inStore, dockerStore] = await Promise.all([mkdtemp(join(tmpdir(), 'dagwright-inproc-')), mkdtemp(join(tmpdir(), 'dagwright-docker-'))]);
    const [inProcess, inDocker] = await Promise.all([
      runFlowProcess('examples/daily-report.ts', [...args, '--store', inStore, '--executor', 'inprocess']),
      runFlowProcess('examples/daily-report.ts', [...args, '--store', dockerStore, '--executor', 'docker']),
    ]);
    expect(inProcess.code).toBe(0);
    expect(inDocker.code, inDocker.stderr.slice(-3000)).toBe(0);
    const summary = summaryOf(inDocker.logs);
    expect(summary.counts).toMatchObject({ ran: 7, failed: 0 });
    expect(summary.ran.every((r: { executor: string }) => r.executor === 'docker')).toBe(true);
    // The tasks' own log lines come back from the containers through the task's logger.
    expect(inDocker.logs.filter((l) => l.msg === 'extracted' && typeof l.taskId === 'string' && l.events === 100)).toHaveLength(3);
    const expected = await filesUnder(inStore);
    expect(Object.keys(expected)).toHaveLength(7);
    expect(await filesUnder(dockerStore)).toEqual(expected);
  });

  it('SIGTERM during a run stops its containers and leaves none behind', async () => {
    const store = await mkdtemp(join(tmpdir(), 'dagwright-sigterm-'));
    const { child, done } = startFlow('test/fixtures/steps-flow.ts', ['--store', store, '--slow-ms', '60000', '--executor', 'docker', '--workers', '2']);
    const mine = JSON.stringify({ label: [`${DockerLabels.ownerPid}=${child.pid}`] });
    let running = 0;
    for (let i = 0; i < 600 && running === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      running = (await docker.listContainers({ filters: mine })).length;
    }
    expect(running).toBeGreaterThan(0);
    const sentAt = Date.now();
    child.kill('SIGTERM');
    const result = await done;
    expect(result.code).toBe(143);
    expect(Date.now() - sentAt).toBeLessThan(10_000);
    expect(await docker.listContainers({ all: true, filters: mine })).toEqual([]);
  });
});
