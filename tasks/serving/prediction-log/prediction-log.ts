/**
 * The prediction log: what a model server saw and answered, for monitoring.
 *
 *   <store>/serving/<model>/predictions/<YYYY-MM-DD>/<chunkId>.jsonl
 *
 * One JSON line per image (`PredictionRecord`), written as records arrive
 * (record-lines.ts). Lines gather in an open chunk in memory; a chunk is
 * published as one file target (written to a temporary sibling and renamed,
 * or one S3 PUT) when it holds `chunkRecords` records or has been open
 * `chunkMaxAgeMs`. A killed server therefore loses at most the open chunk
 * (and one being written), never part of an earlier one. `append` only
 * writes to memory, so logging never delays a response;
 * when storage cannot keep up, memory stays bounded (`maxBufferedRecords`)
 * and records are dropped and counted instead.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { listUnder, type StoreLocation } from '../../store';
import { type PredictionRecord, predictionChunkFile, predictionLogDirectory, readPredictionChunk } from '../../store-layout';
import { ServeOptionError } from '../errors';
import { predictionId } from '../prediction-id';
import { RecordLines } from './record-lines';

/** One logged image, as stored (one JSON line). */
export type { PredictionRecord } from '../../store-layout';

/** One image's prediction. */
export interface PredictionEntry {
  readonly requestId: string;
  readonly version: number;
  readonly shape: readonly number[];
  /** The image's pixels as uint8 (read during `append`, so the caller may reuse the buffer). */
  readonly pixels: Uint8Array;
  readonly probabilities: ArrayLike<number>;
  readonly label: number;
  /** Default: now. */
  readonly time?: Date;
}

/** The images of one request, as the server hands them over; image `i` is logged under `predictionId(requestId, i, count)`. */
export interface PredictionBatch {
  readonly requestId: string;
  readonly version: number;
  /** One image's shape, e.g. [28, 28]. */
  readonly shape: readonly number[];
  readonly count: number;
  /** `count` images as uint8, one after the other (read during `appendBatch`). */
  readonly pixels: Uint8Array;
  /** `count` rows of class probabilities. */
  readonly probabilities: ArrayLike<number>;
  readonly labels: ArrayLike<number>;
  /** Default: now. */
  readonly time?: Date;
}

export interface PredictionLogOptions {
  /** A chunk is published when it holds this many records. Default 1,000. */
  readonly chunkRecords?: number;
  /** ...or when its first record is this old (ms). Default 10,000. */
  readonly chunkMaxAgeMs?: number;
  /** Fraction of images logged, 0-1 (seeded by nothing: Math.random). Default 1 (all). */
  readonly sampleRate?: number;
  /** Records held in memory (open and unpublished chunks) before new ones are dropped. Default 20,000. */
  readonly maxBufferedRecords?: number;
  /** Day folders older than this many days are removed after a publish. Default: kept forever. */
  readonly retentionDays?: number;
  readonly logger?: Logger;
}

export interface PredictionLogStats {
  /** Records in published chunks. */
  readonly written: number;
  readonly chunks: number;
  /** Records not logged because of `sampleRate`. */
  readonly sampledOut: number;
  /** Records dropped because storage fell behind or a chunk failed to publish. */
  readonly dropped: number;
  /** Records in memory now. */
  readonly buffered: number;
}

interface OpenChunk {
  readonly id: string;
  readonly day: string;
  readonly openedAt: number;
  /** One JSON line a record (record-lines.ts), without newlines. */
  readonly lines: string[];
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const CHUNK_FILE = /^(\d{4}-\d{2}-\d{2})\/([A-Za-z0-9][A-Za-z0-9_-]*)\.jsonl$/;

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new ServeOptionError(`Expected \`${name}\` to be a positive number, got \`${value}\``);
  return value;
}

/** The folder of a model's prediction log in a store. */
export function predictionLogLocation(store: StoreLocation, model: string): string {
  return predictionLogDirectory(store, model).uri;
}

/** Appends predictions to the log in chunks; see the module comment. */
export class PredictionLogWriter {
  private readonly chunkRecords: number;
  private readonly chunkMaxAgeMs: number;
  private readonly sampleRate: number;
  private readonly maxBuffered: number;
  private readonly retentionDays: number | undefined;
  private readonly writerId = `${process.pid.toString(36)}${randomBytes(3).toString('hex')}`;
  private sequence = 0;
  private open: OpenChunk | undefined;
  private readonly queue: OpenChunk[] = [];
  private draining: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private lastRetentionDay = '';
  private counts = { written: 0, chunks: 0, sampledOut: 0, dropped: 0, buffered: 0 };
  private recordLines: RecordLines | undefined;

  constructor(
    readonly store: StoreLocation,
    readonly model: string,
    private readonly options: PredictionLogOptions = {},
  ) {
    this.chunkRecords = Math.floor(positive('chunkRecords', options.chunkRecords, 1000));
    this.chunkMaxAgeMs = positive('chunkMaxAgeMs', options.chunkMaxAgeMs, 10_000);
    this.maxBuffered = Math.floor(positive('maxBufferedRecords', options.maxBufferedRecords, 20_000));
    this.retentionDays = options.retentionDays === undefined ? undefined : positive('retentionDays', options.retentionDays, 1);
    const rate = options.sampleRate ?? 1;
    if (!(rate >= 0 && rate <= 1)) throw new ServeOptionError(`Expected \`sampleRate\` to be between 0 and 1, got \`${rate}\``);
    this.sampleRate = rate;
    this.timer = setInterval(() => this.closeIfOld(), Math.min(this.chunkMaxAgeMs, 1000));
    this.timer.unref();
  }

  get stats(): PredictionLogStats {
    return { ...this.counts };
  }

  /** Adds one image's prediction; never blocks on storage. */
  append(entry: PredictionEntry): void {
    const { requestId, version, shape, pixels, probabilities, label, time } = entry;
    this.appendBatch({ requestId, version, shape, count: 1, pixels, probabilities, labels: [label], time });
  }

  /** Adds the predictions of a request's images; never blocks on storage. */
  appendBatch(batch: PredictionBatch): void {
    if (this.closed) return;
    const { requestId, count, pixels, probabilities, labels } = batch;
    const time = batch.time ?? new Date();
    const iso = time.toISOString();
    const day = iso.slice(0, 10);
    // The server hands over the same shape array every time: the parts lines share are written once a version.
    const lines = this.recordLines?.version === batch.version && this.recordLines.shape === batch.shape ? this.recordLines : (this.recordLines = new RecordLines(this.model, batch.version, batch.shape));
    const imageSize = pixels.length / count;
    const classes = probabilities.length / count;
    for (let i = 0; i < count; i++) {
      if (this.sampleRate < 1 && Math.random() >= this.sampleRate) {
        this.counts.sampledOut++;
        continue;
      }
      if (this.counts.buffered >= this.maxBuffered) {
        this.counts.dropped++;
        continue;
      }
      if (this.open && this.open.day !== day) this.closeOpen();
      this.open ??= { id: this.chunkId(time), day, openedAt: Date.now(), lines: [] };
      const image = pixels.subarray(i * imageSize, (i + 1) * imageSize);
      this.open.lines.push(lines.line(iso, predictionId(requestId, i, count), image, probabilities, i * classes, (i + 1) * classes, labels[i]));
      this.counts.buffered++;
      if (this.open.lines.length >= this.chunkRecords) this.closeOpen();
    }
  }

  /** Publishes the open chunk and waits until every chunk so far is published. */
  async flush(): Promise<void> {
    this.closeOpen();
    while (this.draining) await this.draining;
  }

  /** Flushes and stops; later appends are ignored. Idempotent. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    this.closed = true;
  }

  // Sortable by time (ISO basic format), unique per writer process.
  private chunkId(time: Date): string {
    const stamp = time.toISOString().replace(/[-:.]/g, '');
    return `${stamp}-${this.writerId}-${(this.sequence++).toString().padStart(6, '0')}`;
  }

  private closeIfOld(): void {
    if (this.open && Date.now() - this.open.openedAt >= this.chunkMaxAgeMs) this.closeOpen();
  }

  private closeOpen(): void {
    if (!this.open || this.open.lines.length === 0) return;
    this.queue.push(this.open);
    this.open = undefined;
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
  }

  private async drain(): Promise<void> {
    for (let chunk = this.queue.shift(); chunk; chunk = this.queue.shift()) {
      const n = chunk.lines.length;
      try {
        const body = chunk.lines.join('\n') + '\n';
        await predictionChunkFile(this.store, this.model, chunk.day, chunk.id).writeText(body);
        this.counts.written += n;
        this.counts.chunks++;
        await this.applyRetention(chunk.day);
      } catch (err) {
        this.counts.dropped += n;
        this.options.logger?.error({ err, chunk: chunk.id, records: n }, `prediction log: a chunk of ${n} records could not be published`);
      } finally {
        this.counts.buffered -= n;
      }
    }
  }

  // Once per day written: remove day folders older than the retention.
  private async applyRetention(day: string): Promise<void> {
    if (this.retentionDays === undefined || day === this.lastRetentionDay) return;
    this.lastRetentionDay = day;
    const oldest = new Date(Date.parse(`${day}T00:00:00Z`) - this.retentionDays * 86_400_000).toISOString().slice(0, 10);
    for (const old of (await chunkFiles(this.store, this.model)).map((c) => c.day)) {
      if (old < oldest) {
        const log = predictionLogDirectory(this.store, this.model);
        await log.fs.remove(log.fs.join(log.path, old));
      }
    }
  }
}

interface ChunkFile {
  readonly day: string;
  readonly id: string;
  readonly name: string;
}

// Published chunks only: temporary siblings are dot-files and do not match.
async function chunkFiles(store: StoreLocation, model: string): Promise<ChunkFile[]> {
  const names = await listUnder(predictionLogDirectory(store, model));
  return names
    .map((name) => name.split('\\').join('/'))
    .map((name) => CHUNK_FILE.exec(name))
    .filter((m): m is RegExpExecArray => m !== null && DAY.test(m[1]))
    .map((m) => ({ day: m[1], id: m[2], name: m[0] }))
    .sort((a, b) => (a.day === b.day ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.day < b.day ? -1 : 1));
}

async function readChunk(store: StoreLocation, model: string, chunk: ChunkFile, onDamaged: ReadPredictionLogOptions['onDamaged']): Promise<PredictionRecord[]> {
  const file = predictionChunkFile(store, model, chunk.day, chunk.id);
  const { records, damaged } = await readPredictionChunk(file);
  if (damaged > 0) onDamaged?.({ uri: file.uri, lines: damaged });
  return records;
}

export interface ReadPredictionLogOptions {
  /** Only the newest `last` records. */
  readonly last?: number;
  /** Only records at or after this time. */
  readonly since?: Date;
  /** Told of each chunk with damaged lines (a writer killed mid-line): they are skipped, the rest of the chunk is read. */
  readonly onDamaged?: (damage: { readonly uri: string; readonly lines: number }) => void;
}

/**
 * Published records of a model's prediction log, oldest first: all of them,
 * the newest `last`, those `since` a time, or the newest `last` of those.
 */
export async function readPredictionLog(store: StoreLocation, model: string, options: ReadPredictionLogOptions = {}): Promise<PredictionRecord[]> {
  const { last, since } = options;
  if (last !== undefined && !(Number.isInteger(last) && last >= 0)) throw new ServeOptionError(`Expected \`last\` to be a whole number >= 0, got \`${last}\``);
  if (since !== undefined && Number.isNaN(since.getTime())) throw new ServeOptionError('Expected `since` to be a valid Date, got an invalid one');
  const sinceIso = since?.toISOString();
  let chunks = await chunkFiles(store, model);
  if (sinceIso) chunks = chunks.filter((c) => c.day >= sinceIso.slice(0, 10));
  const picked: PredictionRecord[][] = [];
  let count = 0;
  // Newest chunks first, so `last` reads only what it needs (plus one chunk, as writers' chunks may overlap in time).
  let extra = 1;
  for (let i = chunks.length - 1; i >= 0; i--) {
    if (last !== undefined && count >= last && extra-- <= 0) break;
    const records = (await readChunk(store, model, chunks[i], options.onDamaged)).filter((r) => !sinceIso || r.time >= sinceIso);
    picked.push(records);
    count += records.length;
  }
  const all = picked.reverse().flat();
  all.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  return last === undefined ? all : all.slice(Math.max(0, all.length - last));
}

/** The pixels of a record as uint8. */
export function recordPixels(record: PredictionRecord): Uint8Array {
  const bytes = Buffer.from(record.pixels, 'base64');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
