/**
 * Result caching with expiry (Prefect's cache_expiration), through real
 * runs: an output older than the task's cacheExpirationMs no longer makes it
 * complete, on local disk (its mtime, set back with utimes) and on S3 (the
 * object's LastModified); --rerun busts one task's cache at any age.
 */
import { mkdtemp, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/public/runtime';
import { LocalTarget, param, run, S3Target, Task } from '../src';
import { freshBucket, s3TestClient, s3TestFileSystem } from './helpers/s3';

const logger = createLogger({ level: 'silent' });
const s3 = s3TestFileSystem();
const runs: string[] = [];
let dir: string;
let bucket: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dagwright-cache-'));
  bucket = await freshBucket(s3TestClient(), 'cache');
});

/** Exchange rates fetched at most once an hour. */
class Rates extends Task<{ dir: string }> {
  static override params = { dir: param.string() };
  override readonly cacheExpirationMs = 60 * 60_000;
  override output() {
    return new LocalTarget(join(this.params.dir, 'rates.json'));
  }
  async run() {
    runs.push('rates');
    await this.output().writeJson({ eur: 1.1, at: Date.now() });
  }
}

class Quote extends Task<{ dir: string }> {
  static override params = { dir: param.string() };
  override requires() {
    return new Rates({ dir: this.params.dir });
  }
  override output() {
    return new LocalTarget(join(this.params.dir, `quote-${runs.length}.json`));
  }
  async run() {
    runs.push('quote');
    await this.output().writeJson(await this.input().readText());
  }
}

class RemoteRates extends Task<{ bucket: string }> {
  static override params = { bucket: param.string() };
  override readonly cacheExpirationMs = 1500;
  override output() {
    return new S3Target(`s3://${this.params.bucket}/rates.json`, s3);
  }
  async run() {
    runs.push('remote');
    await this.output().writeJson({ at: Date.now() });
  }
}

/** Made elsewhere, dated nowhere: a target whose age dagwright cannot read. */
class RowCount extends Task<{ table: string }> {
  static override params = { table: param.string() };
  override readonly cacheExpirationMs = 1000;
  override output() {
    return { uri: `db://${this.params.table}/count`, exists: async () => true };
  }
  async run() {}
}

describe('result caching with expiry', () => {
  it('a fresh output counts, an expired one runs the task again (and what needs it); --rerun busts it at any age', async () => {
    runs.length = 0;
    const rates = new Rates({ dir });
    expect((await run(rates, { logger })).ok).toBe(true);
    expect((await run(rates, { logger })).tasks[0].status).toBe('complete');
    expect(runs).toEqual(['rates']);
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60_000);
    await utimes(rates.output().path, twoHoursAgo, twoHoursAgo);
    const stale = await run(new Quote({ dir }), { logger });
    expect(stale.ok).toBe(true);
    expect(runs).toEqual(['rates', 'rates', 'quote']);
    const busted = await run(rates, { logger, rerun: [rates.id] });
    expect(busted.tasks[0].status).toBe('ran');
    expect(runs).toEqual(['rates', 'rates', 'quote', 'rates']);
  });

  it('reads an S3 output\'s age from its LastModified', async () => {
    runs.length = 0;
    const remote = new RemoteRates({ bucket });
    await run(remote, { logger });
    expect((await run(remote, { logger })).tasks[0].status).toBe('complete');
    await sleep(2200); // S3 times are in whole seconds
    expect((await run(remote, { logger })).tasks[0].status).toBe('ran');
    expect(runs).toEqual(['remote', 'remote']);
  });

  it('refuses an expiry on an output it cannot date, with the fix, instead of ignoring it', async () => {
    const summary = await run(new RowCount({ table: 'orders' }), { logger });
    expect(summary.ok).toBe(false);
    expect(summary.tasks[0].error).toMatch(/cacheExpirationMs needs to know when its outputs were written, but db:\/\/orders\/count is no file or directory target/);
  });
});
