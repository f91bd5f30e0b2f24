/**
 * The simulated month's clients (flows/operate.ts): each image of a slice
 * is one POST to the server's V2 infer route, eight in flight, its id naming
 * the day and the image (operate-parts.ts predictionId). Then every image is
 * accounted for against the prediction log:
 *
 * - logged: the log holds its prediction (once: found by id);
 * - failed: its request got no answer. Failures while the answering server
 *   was SIGKILLed are counted apart (`failedOnKill`); the client waits for
 *   the restarted server and sends the image again unless the dead server
 *   had logged it (a real client retries what got no answer);
 * - answered by a server that was then SIGKILLed but not logged: its open
 *   prediction-log chunk, the loss the serving docs allow (`openChunk`, at
 *   most two chunks a kill: the open one and one being written);
 * - answered by a live server and not logged within 30 s, or beyond that
 *   bound: `lost` (must be 0).
 *
 * Images not logged are sent again (a new id), so that the log holds the
 * whole slice and the monitor checks the same images as a month without
 * kills: decisions can then be compared exactly.
 */
import { MNIST_PIXELS } from '../tasks/data/mnist-format';
import type { ImageBatch } from '../tasks/drift/sources/image-batch';
import { readPredictionLog } from '../tasks/serving';
import type { PredictionRecord } from '../tasks/store-layout';
import { type LoggedPrediction, MODEL, predictionId, type SentSlice, SERVER, sleep } from './operate-parts';

/** The server as the clients see it: where it answers, and which of its processes (instances) were killed. */
export interface ServerEndpoint {
  readonly url: string;
  /** Resolves when a server process answers ready (at once when one does). */
  ready(): Promise<void>;
  /** The process now serving (a number that grows with each restart). */
  readonly instance: number;
  wasKilled(instance: number): boolean;
}

export interface SliceAccount {
  requests: number;
  /** Images whose request failed while the server was up, and while it was being killed. */
  failed: number;
  failedOnKill: number;
  /** Answered by a killed server and never logged: its open chunk. */
  openChunk: number;
  /** Answered and never logged otherwise: must be 0. */
  lost: number;
  readonly logged: LoggedPrediction[];
}

/** Requests a slice keeps in flight. */
const IN_FLIGHT = 8;
/** Between reads of the log while answered predictions are not in it yet: the server publishes a chunk SERVER.chunkMaxAgeMs after its first record. */
const LOG_POLL_MS = 5;

interface Attempt {
  readonly index: number;
  readonly id: string;
  readonly instance: number;
  readonly answered: boolean;
}

async function postImage(url: string, id: string, pixels: Uint8Array): Promise<boolean> {
  try {
    const response = await fetch(`${url}/v2/models/${MODEL}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id, inputs: [{ name: 'image', shape: [1, 28, 28, 1], datatype: 'UINT8', data: Array.from(pixels) }], outputs: [{ name: 'label' }] }),
    });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false; // reset or refused: the server went away
  }
}

/** One round: posts the images (`indices` of the slice), IN_FLIGHT at a time; `onAnswer` hears each answer (the chaos plan kills the server from it). */
async function sendRound(server: ServerEndpoint, ids: (index: number) => string, slice: ImageBatch, indices: readonly number[], onAnswer?: () => void): Promise<Attempt[]> {
  const attempts: Attempt[] = [];
  let next = 0;
  const worker = async () => {
    while (next < indices.length) {
      const index = indices[next++];
      await server.ready();
      const instance = server.instance;
      const id = ids(index);
      const answered = await postImage(server.url, id, slice.pixels.subarray(index * MNIST_PIXELS, (index + 1) * MNIST_PIXELS));
      attempts.push({ index, id, instance, answered });
      if (answered) onAnswer?.();
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, indices.length) }, worker));
  return attempts;
}

/**
 * The log's records of these ids, waiting (at most 30 s) for those a live server answered.
 * They are the newest records (nothing else sends): reading the newest few chunks finds them, where
 * reading by time read the whole day's log at every poll, a cost that grew with the simulated month.
 */
async function loggedRecords(store: string, attempts: readonly Attempt[], server: ServerEndpoint): Promise<Map<string, PredictionRecord>> {
  const deadline = Date.now() + 30_000;
  const newest = attempts.length + 2 * SERVER.chunkRecords;
  for (;;) {
    const wanted = new Set(attempts.map((a) => a.id));
    const found = new Map((await readPredictionLog(store, MODEL, { last: newest })).filter((r) => wanted.has(r.requestId)).map((r) => [r.requestId, r]));
    const pending = attempts.filter((a) => a.answered && !server.wasKilled(a.instance) && !found.has(a.id));
    if (pending.length === 0 || Date.now() > deadline) return found;
    await sleep(LOG_POLL_MS);
  }
}

/** Sends the slice (see the module comment) and accounts for every image. */
export async function sendAndAccount(store: string, server: ServerEndpoint, day: number, offset: number, slice: ImageBatch, onAnswer?: () => void): Promise<SliceAccount> {
  const account: SliceAccount = { requests: 0, failed: 0, failedOnKill: 0, openChunk: 0, lost: 0, logged: [] };
  const openChunkPerKill = new Map<number, number>();
  let missing = Array.from({ length: slice.count }, (_, i) => i);
  for (let round = 0; missing.length > 0; round++) {
    if (round > 5) throw new Error(`day ${day}: ${missing.length} image(s) still not in the prediction log after ${round} rounds of sending`);
    const attempts = await sendRound(server, (i) => predictionId(day, offset, i, round), slice, missing, round === 0 ? onAnswer : undefined);
    const found = await loggedRecords(store, attempts, server);
    account.requests += attempts.length;
    missing = [];
    for (const a of attempts) {
      const record = found.get(a.id);
      if (!a.answered) account[server.wasKilled(a.instance) ? 'failedOnKill' : 'failed']++;
      if (record) {
        account.logged.push({ index: a.index, record });
        continue;
      }
      missing.push(a.index);
      if (!a.answered) continue;
      const inChunk = openChunkPerKill.get(a.instance) ?? 0;
      const allowed = server.wasKilled(a.instance) && inChunk < 2 * SERVER.chunkRecords;
      if (allowed) openChunkPerKill.set(a.instance, inChunk + 1);
      account[allowed ? 'openChunk' : 'lost']++;
    }
    missing.sort((a, b) => a - b);
  }
  account.logged.sort((a, b) => a.index - b.index);
  return account;
}

/** Sends the slice to a server nobody kills (in this process, or a container): an answered prediction missing from the log is an error. */
export async function sendToLiveServer(store: string, url: string, day: number, offset: number, slice: ImageBatch): Promise<SentSlice> {
  const endpoint: ServerEndpoint = { url, ready: async () => undefined, instance: 0, wasKilled: () => false };
  const account = await sendAndAccount(store, endpoint, day, offset, slice);
  if (account.lost > 0) throw new Error(`day ${day}: ${account.lost} answered prediction(s) never reached the prediction log`);
  return { requests: account.requests, failed: account.failed, logged: account.logged };
}
