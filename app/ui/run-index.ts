import type { Store } from '../../src/store/store';
import pLimit from 'p-limit';
import { storeFolder } from '../../src/history/store-files';
import { effectiveStatus, type RunRecord } from '../../src/history/run-record';
import { readRunTracking, type RunTracked } from '../../src/tracking/read-tracking';

const runFile = /^([A-Za-z0-9][A-Za-z0-9._-]*)\.json$/;
const listingTtlMs = 1000;

/**
 * The store's runs as the UI reads them. Lists `<store>/_runs/` one level
 * deep (not the run folders beside the records), reads only the records a
 * page shows, and keeps finished runs' records and tracking in memory:
 * a finished record never changes, so a 10,000-run store is read once.
 */
export class RunIndex {
  private readonly records = new Map<string, RunRecord>();
  private readonly tracked = new Map<string, RunTracked>();
  private readonly folder;
  private readonly limit = pLimit(32);

  constructor(readonly store: Store) {
    this.folder = storeFolder(store, '_runs');
  }

  private listed: { at: number; ids: Promise<string[]> } | undefined;

  /** Run ids, newest first; one listing serves the requests of the same second (10 requests on S3 for 10,000 runs). */
  ids(): Promise<string[]> {
    const now = Date.now();
    if (!this.listed || now - this.listed.at > listingTtlMs) {
      const ids = this.listIds();
      this.listed = { at: now, ids };
      ids.catch(() => (this.listed = undefined));
    }
    return this.listed.ids;
  }

  private async listIds(): Promise<string[]> {
    const ids: string[] = [];
    for (const entry of await this.folder.fs.list(this.folder.path)) {
      const m = entry.kind === 'file' ? runFile.exec(entry.name) : null;
      if (m) ids.push(m[1]);
    }
    return ids.sort().reverse();
  }

  /** One record (cached once finished), or undefined when missing or unreadable. */
  async record(runId: string): Promise<RunRecord | undefined> {
    const cached = this.records.get(runId);
    if (cached) return cached;
    if (!runFile.test(`${runId}.json`)) return undefined;
    try {
      const path = this.folder.fs.join(this.folder.path, `${runId}.json`);
      const record = JSON.parse((await this.folder.fs.read(path)).toString('utf8')) as RunRecord;
      if (record.status !== 'running') this.records.set(runId, record);
      return record;
    } catch {
      return undefined;
    }
  }

  async recordsOf(ids: readonly string[]): Promise<RunRecord[]> {
    const records = await Promise.all(ids.map((id) => this.limit(() => this.record(id))));
    return records.filter((r): r is RunRecord => r !== undefined);
  }

  /** What a run tracked (cached once the run finished). */
  async tracking(record: RunRecord): Promise<RunTracked> {
    const cached = this.tracked.get(record.runId);
    if (cached) return cached;
    const tracked = await readRunTracking(this.store, record.runId);
    if (effectiveStatus(record) !== 'running') this.tracked.set(record.runId, tracked);
    return tracked;
  }

  async trackingOf(records: readonly RunRecord[]): Promise<RunTracked[]> {
    return Promise.all(records.map((r) => this.limit(() => this.tracking(r))));
  }
}
