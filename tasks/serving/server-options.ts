/** The model server's options and defaults (model-server.ts). */
import type { ServingHistoryOptions } from './serving-history';
import type { Logger } from 'pino';
import type { BackendName } from '../tf/tf-backend';
import type { BatchingOptions } from './runtime/adaptive-batcher';
import type { ModelAdapter } from './runtime/model-adapter';
import type { PredictIn } from './runtime/model-runtimes';
import type { PredictionLogOptions } from './prediction-log/prediction-log';

export const DEFAULT_SERVE_HOST = '127.0.0.1';
export const DEFAULT_SERVE_PORT = 8080;
export const DEFAULT_ALIAS = 'champion';
/** How long a stopping server waits for requests it received (8 s: within Docker's default 10 s stop grace, with time to flush the log). */
export const DEFAULT_DRAIN_TIMEOUT_MS = 8000;
/** The environment variable the bearer token can come from. */
export const TOKEN_ENV = 'DAGWRIGHT_SERVE_TOKEN';

export interface ModelServerOptions {
  /** The store holding the registry: a folder or s3://bucket/prefix. */
  readonly store: string;
  /** Default `mnist-digits`. */
  readonly model?: string;
  /** The alias to follow; default `champion`. Ignored when `version` is set. */
  readonly alias?: string;
  /** Serve exactly this version (no swaps). */
  readonly version?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 8080; 0 picks a free port (see `port` after start). */
  readonly port?: number;
  /** When set, every route but health checks needs `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** The model's shapes; default an image classifier shaped like the first version loaded (`imageClassifierFitting`), input named "image". */
  readonly adapter?: ModelAdapter;
  /** Default `DEFAULT_BATCHING` (64 images per call, no wait); `{ maxBatchSize: 1 }` turns batching off. */
  readonly batching?: BatchingOptions;
  /** How often the alias is checked (S3: one HEAD; local: a stat behind the watch), ms. Default 1000. */
  readonly pollMs?: number;
  /** Largest request body; default 16 MiB. */
  readonly maxBodyBytes?: number;
  /** Prediction log settings, or false for none. Default: on, every request. */
  readonly predictionLog?: PredictionLogOptions | false;
  /** The per-minute serving history in the store (serving-history.ts), or false for none. Default: on, every minute. */
  readonly servingHistory?: ServingHistoryOptions | false;
  /** When the port is taken, load and warm the model, then wait up to this long for it to be free (a replacement taking over). Default 0: fail at once. */
  readonly portWaitMs?: number;
  /** On stop, keep serving open connections until another server has taken the port, at most this long (ms). Default 0: close at once. */
  readonly handoverMs?: number;
  /**
   * On stop, how long to wait for the requests already received (each answered with `Connection: close`) before those
   * still running are answered 503 and every connection is closed, ms. Default `DEFAULT_DRAIN_TIMEOUT_MS` (8000).
   */
  readonly drainTimeoutMs?: number;
  /** A file written once a version is loaded and warmed (even while waiting for the port), removed when the server stops: for health checks. */
  readonly readyFile?: string;
  /** Start even if the alias names no version yet (answer 503 until it does). Default false: start fails. */
  readonly waitForModel?: boolean;
  /**
   * Where predictions run (runtime/model-runtimes.ts): 'auto' (default: ONNX versions in a worker thread, TensorFlow.js
   * versions on this thread), 'worker' (every version in a worker thread, so requests are parsed while a batch is
   * predicted; for TF.js measured here, with the load generator on the other core, 15-20% more CPU per request and
   * 100 MB more memory) or 'inline' (this thread).
   */
  readonly predictIn?: PredictIn;
  /** TensorFlow.js backend for versions without an ONNX file; default the fastest available (tfjs-node, else wasm). */
  readonly backend?: BackendName;
  /** ONNX Runtime's intra-op threads for ONNX versions; default the cores less one in a worker, every core inline. */
  readonly onnxThreads?: number;
  readonly logger?: Logger;
}
