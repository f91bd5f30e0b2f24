import { parseStore } from '../src/store/store';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readRunTracking } from '../src/tracking/read-tracking';
import { readTaskLog } from '../src/tracking/task-logs';
import { describeDocker } from './helpers/docker';
import { runFlowProcess } from './helpers/flow-process';

let store: string;

describeDocker('tracking and task logs of steps that run in Docker containers', () => {
  beforeAll(() => {
    store = mkdtempSync(join(tmpdir(), 'dagwright-tracking-docker-'));
  });
  afterAll(() => rmSync(store, { recursive: true, force: true }));

  it('a container step writes its own tracking into the store; the host keeps its log lines', async () => {
    const result = await runFlowProcess('test/fixtures/ui-flow.ts', ['--store', store, '--executor', 'docker', '--lr', '0.2', '--shards', '1']);
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    const runId = result.logs.find((l) => typeof l.runId === 'string')!.runId as string;
    const tracked = await readRunTracking(parseStore(store), runId);
    const train = tracked.attempts.find((a) => a.taskId.startsWith('TrainToy_'))!;
    expect(train.params).toEqual({ lr: '0.2', epochs: '3', note: '' });
    expect(train.metrics.filter((p) => p.key === 'loss').map((p) => p.step)).toEqual([1, 2, 3]);
    expect(tracked.metrics.test_accuracy).toBe(0.95);
    // Written once, by the step: the host's unused tracking of the same attempt wrote nothing over it.
    expect(tracked.attempts.filter((a) => a.taskId === train.taskId)).toHaveLength(1);
    const log = await readTaskLog(parseStore(store), runId, train.taskId);
    expect(log).toContain('epoch 3/3');
  }, 180_000);
});
