/**
 * A run record keeps why a task's earlier attempts failed once a later one
 * succeeded (`retriedAfter`): how the history names a lost Swarm node, a
 * timeout or a flaky dependency after the run has recovered. In process, a
 * local store.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createLogger } from '../src/public/runtime';
import { InProcessExecutor } from '../src/public/executors';
import { param, parseStore, run, target, Task } from '../src';
import { RunHistory } from '../src/public/store';
import { RunRecorder } from '../src/history/run-history';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('keeps the errors of failed attempts, oldest first, in the record of a task that succeeded later', async () => {
  dir = await mkdtemp(join(tmpdir(), 'dagwright-history-retries-'));
  const out = join(dir, 'out.txt');
  class Flaky extends Task<{ n: number }> {
    static override params = { n: param.int() };
    override readonly retries = 2;
    override readonly retryDelayMs = 1;
    override output() {
      return target(out);
    }
    async run(ctx: { attempt: number }) {
      if (ctx.attempt === 1) throw new Error('node worker-7 was lost');
      if (ctx.attempt === 2) throw new Error('timed out');
      await this.output().writeText('ok');
    }
  }
  const logger = createLogger({ level: 'silent' });
  const recorder = await RunRecorder.start(parseStore(dir), { runId: 'r1', flow: 'flaky', params: {}, store: dir }, logger, { throttleMs: 0 });
  const summary = await run(new Flaky({ n: 1 }), { executor: new InProcessExecutor(), logger, runId: 'r1', onEvent: (e) => recorder.onEvent(e) });
  await recorder.finish({ summary, status: 'succeeded' });
  expect(summary.ok).toBe(true);
  const record = await RunHistory.forStore(parseStore(dir)).read('r1');
  const task = record!.tasks.find((t) => t.id.startsWith('Flaky'))!;
  expect(task).toMatchObject({ status: 'ran', attempts: 3, retriedAfter: [`${task.id}: node worker-7 was lost`, `${task.id}: timed out`] });
});
