/**
 * Errors of tasks/ say whether another attempt could help: wrong input and
 * unusable data fail once however many retries a task allows (with a message
 * saying what to do); a server that did not come up is worth another try.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/public/runtime';
import { LocalDirectoryTarget, run } from '../src';
import { readDataset } from '../tasks/data/dataset-files';
import { DatasetError } from '../tasks/data/errors';
import { DataSourceError, StatisticInputError } from '../tasks/drift/errors';
import { loadSource } from '../tasks/drift/sources/source-spec';
import { ks2Samp } from '../tasks/drift/stats/ks';
import { MonitorDrift } from '../tasks/mnist/monitor-task';
import { ServerStartTimeoutError } from '../tasks/serving';

let store: string;
beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'dagwright-tasks-errors-'));
});
afterAll(async () => {
  await rm(store, { recursive: true, force: true });
});

/** The MNIST monitor, allowed two retries. */
class PatientMonitor extends MonitorDrift {
  override readonly retries = 2;
  override readonly retryDelayMs = 1;
}

describe('errors of tasks/', () => {
  it('a monitor with no logged predictions fails once, not three times, saying what to do', async () => {
    const summary = await run(new PatientMonitor({ store, modelName: 'mnist-digits', until: new Date().toISOString() }), { logger: createLogger({ level: 'silent' }) });
    expect(summary.ok).toBe(false);
    expect(summary.tasks[0]).toMatchObject({ status: 'failed', attempts: 1, error: expect.stringContaining('start the server with this store, or pass --source') });
  });

  it('wrong input and unusable data are typed and not retryable; a server that did not come up is', async () => {
    const dir = join(store, 'dataset');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ formatVersion: 1, tensors: {}, details: {} }));
    const missing = await readDataset(new LocalDirectoryTarget(dir), ['trainImages']).catch((err: unknown) => err);
    expect(missing).toBeInstanceOf(DatasetError);
    expect(missing).toMatchObject({ retryable: false, message: expect.stringMatching(/lists no tensor "trainImages": .*run the task that writes it again/) });

    const stat = (() => { try { ks2Samp([], [1]); } catch (err) { return err; } })();
    expect(stat).toBeInstanceOf(StatisticInputError);
    expect(stat).toMatchObject({ retryable: false });

    await expect(loadSource('no-such-source')).rejects.toBeInstanceOf(DataSourceError);
    expect(new ServerStartTimeoutError('not ready').retryable).toBe(true);
  });
});
