/**
 * A step running in a container checks its run's locks before it publishes:
 * with the driving flow process frozen (SIGSTOP) past the lock's lease, the
 * step's write is refused, so a frozen or vanished driver never lets a
 * container publish work another run now owns. Needs a Docker engine and
 * the runner image.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { killLeftovers, until } from './helpers/cron';
import { describeDocker } from './helpers/docker';
import { runFlowProcess, startFlow } from './helpers/flow-process';

const exec = promisify(execFile);
const flow = 'test/fixtures/lease-step-flow.ts';
const children: ReturnType<typeof startFlow>[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGCONT'), c.child.kill('SIGKILL');
  killLeftovers();
});

const exists = (path: string) => stat(path).then(() => true, () => false);

describeDocker('a step in a container under a frozen driver', () => {
  // Compile the project for containers first, with the default stale limit: a driver busy compiling would miss its short heartbeats.
  beforeAll(async () => {
    const warm = await runFlowProcess(flow, ['--store', await mkdtemp(join(tmpdir(), 'dagwright-safety-step-lease-')), '--executor', 'docker', '--name', 'warm']);
    expect(warm.code, warm.stderr).toBe(0);
  }, 300_000);

  it('publishes nothing once the run that started it stops refreshing its locks; the driver then exits 75', async () => {
    const store = await mkdtemp(join(tmpdir(), 'dagwright-safety-step-lease-'));
    const driver = startFlow(flow, ['--store', store, '--executor', 'docker', '--sleep-ms', '12000'], { DAGWRIGHT_LOCK_STALE_MS: '6000' });
    children.push(driver);
    await until('the step to start in its container', () => exists(join(store, 'started.log')), 120_000);
    driver.child.kill('SIGSTOP');
    try {
      await sleep(16_000); // the step's sleep ends at 12 s, well past the 5.4 s lease
      expect(await exists(join(store, 'step.txt'))).toBe(false);
      // The step itself refused and exited; its log says why.
      const ids = (await exec('docker', ['ps', '-aq', '--filter', `label=dagwright.owner-pid=${driver.child.pid}`])).stdout.trim().split('\n').filter(Boolean);
      expect(ids).toHaveLength(1);
      const state = (await exec('docker', ['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', ids[0]])).stdout.trim();
      expect(state).toMatch(/^exited [1-9]/);
      const logs = await exec('docker', ['logs', ids[0]]);
      expect(logs.stdout + logs.stderr).toContain('the run that started this step has not refreshed it');
    } finally {
      driver.child.kill('SIGCONT');
    }
    const frozen = await driver.done;
    expect(frozen.code, frozen.stderr).toBe(75);
    expect(await exists(join(store, 'step.txt'))).toBe(false);

    const next = await runFlowProcess(flow, ['--store', store, '--executor', 'docker', '--sleep-ms', '0']);
    expect(next.code, next.stderr).toBe(0);
    expect(await readFile(join(store, 'step.txt'), 'utf8')).toBe('step\n');
  }, 180_000);

  it('a ContainerTask finished while its driver was frozen: the driver publishes none of its outputs when it resumes', async () => {
    const store = await mkdtemp(join(tmpdir(), 'dagwright-safety-step-lease-'));
    const args = ['--store', store, '--executor', 'docker', '--kind', 'command', '--name', 'command'];
    const driver = startFlow(flow, [...args, '--sleep-ms', '6000'], { DAGWRIGHT_LOCK_STALE_MS: '6000' });
    children.push(driver);
    const running = async () => (await exec('docker', ['ps', '-q', '--filter', `label=dagwright.owner-pid=${driver.child.pid}`])).stdout.trim() !== '';
    await until('the command to run in its container', running, 120_000);
    driver.child.kill('SIGSTOP');
    try {
      await sleep(13_000); // the command wrote its (staged) output at 6 s; the 5.4 s lease is long over
    } finally {
      driver.child.kill('SIGCONT');
    }
    const frozen = await driver.done;
    expect(frozen.code, frozen.stderr).toBe(75);
    expect(await exists(join(store, 'command.txt'))).toBe(false);

    const next = await runFlowProcess(flow, [...args, '--sleep-ms', '0']);
    expect(next.code, next.stderr).toBe(0);
    expect(await readFile(join(store, 'command.txt'), 'utf8')).toBe('command\n');
  }, 180_000);
});
