/**
 * What a simulated month (flows/operate.ts) drives each day: the routine
 * flow runs, the model server and the traffic. The day logic is the same
 * whoever runs them: this process (operate-inprocess.ts), or child
 * processes started the way cron and a supervisor start them and SIGKILLed
 * at random seeded moments (operate-chaos.ts).
 */
import type { Logger } from 'pino';
import type { ImageBatch } from '../tasks/drift/sources/image-batch';
import type { PredictionRecord } from '../tasks/store-layout';

export const MODEL = 'mnist-digits';

/**
 * The server's settings in every mode: alias polling, and small prediction-log chunks so the monitor
 * sees a slice soon after it is sent. Each hourly slice waits for its chunk to close before its monitor
 * runs: at 100 ms that wait was most of a slice's cost.
 */
export const SERVER = { pollMs: 200, chunkRecords: 50, chunkMaxAgeMs: 25 } as const;

/** A routine flow: its definition (run in this process) and its script (run as a process, as cron does). */
export interface Routine {
  readonly name: 'mnist-register' | 'drift-monitor';
  readonly script: string;
}

/** One image's prediction as the server logged it; `index` is the image's place in the slice sent. */
export interface LoggedPrediction {
  readonly index: number;
  readonly record: PredictionRecord;
}

export interface SentSlice {
  /** HTTP requests made (retries included) and images whose request failed. */
  readonly requests: number;
  readonly failed: number;
  /** Every image of the slice that the prediction log holds, once. */
  readonly logged: readonly LoggedPrediction[];
}

export interface OperateParts {
  /** Runs a routine flow until it succeeds (its runs are recorded in the store's history); throws naming it when it fails. */
  runRoutine(routine: Routine, args: readonly string[]): Promise<void>;
  /** Resolves once the model server (started on the first call) serves `version`. */
  awaitVersion(version: number): Promise<void>;
  /** Sends the slice's images over HTTP, one a request, ids naming `day` and `offset + index`. */
  sendSlice(day: number, offset: number, slice: ImageBatch): Promise<SentSlice>;
  /** Stops the server and anything still running. */
  stop(): Promise<void>;
}

/** What every routine run is given besides its own options. */
export function routineArgs(store: string, logger: Logger): string[] {
  return ['--store', store, '--executor', 'inprocess', '--log-level', logger.level === 'silent' ? 'error' : 'warn'];
}

/** The request id of image `offset + index` of simulated day `day` (one image a request: the prediction id too). */
export const predictionId = (day: number, offset: number, index: number, attempt = 0) => `op-d${day}-i${offset + index}${attempt > 0 ? `-resent${attempt}` : ''}`;

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
