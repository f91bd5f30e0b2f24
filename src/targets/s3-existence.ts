/** One page of a folder listing: the keys, and whether more pages follow. */
export type ListFolder = (bucket: string, prefix: string, maxPages: number) => Promise<{ keys: string[]; complete: boolean }>;
/** One HEAD: whether the object exists. */
export type HeadObject = (bucket: string, key: string) => Promise<boolean>;

export interface ExistenceOptions {
  /** Checks in one folder, arriving together, that are answered by a listing instead of HEADs; default 8. */
  listThreshold?: number;
  /** Pages of 1,000 keys a listing may read before the rest falls back to HEADs; default 10. */
  maxListPages?: number;
  /** How long a listing's "it exists" answers serve later checks; default 10 s. */
  positiveTtlMs?: number;
}

interface Waiter {
  key: string;
  resolve: (found: boolean) => void;
  reject: (err: unknown) => void;
}

interface Listing {
  keys: Set<string>;
  at: number;
}

function folderOf(key: string): string {
  const slash = key.lastIndexOf('/');
  return slash < 0 ? '' : key.slice(0, slash + 1);
}

/**
 * Answers many existence checks in one S3 folder with one listing (one
 * request per 1,000 keys) instead of one HEAD each: deciding what a large
 * DAG on S3 must do then takes a few requests. Checks that arrive in the
 * same turn of the event loop are grouped by folder; small groups still use
 * HEAD. A listing's "exists" answers serve later checks in its folder for a
 * short time (a run does not delete the outputs it depends on); "absent" is
 * never remembered, so an output written a moment ago is always seen.
 */
export class S3ExistenceChecker {
  private readonly listThreshold: number;
  private readonly maxListPages: number;
  private readonly positiveTtlMs: number;
  private pending = new Map<string, Waiter[]>();
  private flushScheduled = false;
  private readonly listings = new Map<string, Listing>();

  constructor(
    private readonly list: ListFolder,
    private readonly head: HeadObject,
    options: ExistenceOptions = {},
  ) {
    this.listThreshold = options.listThreshold ?? 8;
    this.maxListPages = options.maxListPages ?? 10;
    this.positiveTtlMs = options.positiveTtlMs ?? 10_000;
  }

  exists(bucket: string, key: string): Promise<boolean> {
    const folder = `${bucket}/${folderOf(key)}`;
    const listing = this.listings.get(folder);
    if (listing && Date.now() - listing.at < this.positiveTtlMs && listing.keys.has(key)) return Promise.resolve(true);
    return new Promise((resolve, reject) => {
      const waiters = this.pending.get(folder) ?? [];
      waiters.push({ key, resolve, reject });
      this.pending.set(folder, waiters);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Forgets what listings said about `key`'s folder (after removing objects there). */
  forget(bucket: string, key: string): void {
    this.listings.delete(`${bucket}/${folderOf(key)}`);
  }

  private flush(): void {
    const groups = this.pending;
    this.pending = new Map();
    this.flushScheduled = false;
    for (const [folder, waiters] of groups) {
      const bucket = folder.slice(0, folder.indexOf('/'));
      if (waiters.length < this.listThreshold) {
        for (const w of waiters) this.head(bucket, w.key).then(w.resolve, w.reject);
      } else {
        void this.answerByListing(bucket, folder, waiters);
      }
    }
  }

  private async answerByListing(bucket: string, folder: string, waiters: Waiter[]): Promise<void> {
    const at = Date.now();
    let result: { keys: string[]; complete: boolean };
    try {
      result = await this.list(bucket, folder.slice(bucket.length + 1), this.maxListPages);
    } catch (err) {
      for (const w of waiters) w.reject(err);
      return;
    }
    const keys = new Set(result.keys);
    this.listings.set(folder, { keys, at });
    for (const w of waiters) {
      // A listing that started after the check was asked is as good as a HEAD, "absent" included.
      if (keys.has(w.key)) w.resolve(true);
      else if (result.complete) w.resolve(false);
      else this.head(bucket, w.key).then(w.resolve, w.reject);
    }
  }
}
