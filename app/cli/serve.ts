/**
 * `dagwright serve`: serves a registry model over HTTP in the foreground
 * (Open Inference Protocol V2 and MLflow scoring routes, /metrics), swapping
 * versions when the alias moves, until SIGINT or SIGTERM.
 *
 *   dagwright serve --store ./data                     # champion of mnist-digits on 127.0.0.1:8080
 *   dagwright serve --store s3://bucket/store --alias staging --port 9000
 *   DAGWRIGHT_SERVE_TOKEN=secret dagwright serve        # clients send Authorization: Bearer secret
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { UsageError } from '../../src/errors';
import { commandArgs } from './command';
import { createLogger, type LogLevel, logLevels } from '../../src/logger';
import { runInForeground } from '../../src/services/service';
import { checkStore } from '../../src/targets/uri';
import { DEFAULT_ALIAS, DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_SERVE_HOST, DEFAULT_SERVE_PORT, ModelServer, type ModelServerOptions, TOKEN_ENV } from '../../tasks/serving/model-server';
import { DEFAULT_MODEL_NAME } from '../../tasks/registry/registry';
import { DEFAULT_BATCHING } from '../../tasks/serving/runtime/adaptive-batcher';
import { DEFAULT_PREDICT_IN, defaultOnnxThreads, PREDICT_IN, type PredictIn } from '../../tasks/serving/runtime/model-runtimes';

export const serveUsage = `usage: dagwright serve [options]

Serves a model from the store's registry: the version its alias names (default
"${DEFAULT_ALIAS}"), swapped without a gap when the alias moves.

  --store <folder|s3://bucket/prefix>  the flow store holding the registry (default ./data)
  --model <name>              registry model (default ${DEFAULT_MODEL_NAME})
  --alias <name>              alias to follow (default ${DEFAULT_ALIAS})
  --version <n>               serve exactly version n instead (no swaps)
  --host <address>            default ${DEFAULT_SERVE_HOST}
  --port <n>                  default ${DEFAULT_SERVE_PORT} (0: any free port)
  --token <secret>            require "Authorization: Bearer <secret>" (or set ${TOKEN_ENV}; health checks stay open)
  --token-file <path>         the same, the token read from this file (a Swarm or Docker secret; one trailing newline ignored)
  --max-batch-size <n>        adaptive batching: images per model call (default ${DEFAULT_BATCHING.maxBatchSize}; 1 turns it off)
  --max-wait-ms <ms>          how long a request may wait for a batch to fill (default ${DEFAULT_BATCHING.maxWaitMs}: only what arrives together)
  --predict-in <where>        auto (default: ONNX versions in a worker thread, TensorFlow.js ones in this thread),
                              worker (every version in a worker thread) or inline (every version in this thread)
  --onnx-threads <n>          ONNX Runtime's threads for ONNX versions (default: the cores less one in a worker, ${defaultOnnxThreads(true)} here; every core inline)
  --poll-ms <ms>              how often the alias is checked (default 1000)
  --max-body-mb <mb>          largest request body (default 16)
  --log-sample-rate <0-1>     fraction of images written to the prediction log (default 1)
  --log-chunk-records <n>     records per prediction log chunk (default 1000)
  --log-chunk-seconds <s>     longest a chunk stays open (default 10)
  --log-retention-days <n>    remove prediction log days older than this (default: keep)
  --no-prediction-log         log nothing
  --wait-for-port <ms>        if the port is taken, load and warm the model, then wait this long for it (a replacement)
  --handover-ms <ms>          on SIGTERM, keep serving open connections until another server takes the port (at most this long)
  --drain-timeout-ms <ms>     on SIGINT/SIGTERM, stop accepting and answer every request already received (each with
                              "Connection: close"); requests still running after this long get a 503 (default ${DEFAULT_DRAIN_TIMEOUT_MS})
  --wait-for-model            start even if the alias names no version yet (503 until it does)
  --ready-file <path>         write this file once a version is loaded and warmed (also while waiting for the port); removed on stop
  --log-level <level>         ${logLevels.join(', ')} (default info)

Exit codes: 0 stopped by SIGINT/SIGTERM after finishing requests, 1 could not start, 2 usage error.
`;

const options = {
  store: { type: 'string' },
  model: { type: 'string' },
  alias: { type: 'string' },
  version: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  'max-batch-size': { type: 'string' },
  'max-wait-ms': { type: 'string' },
  'poll-ms': { type: 'string' },
  'predict-in': { type: 'string' },
  'onnx-threads': { type: 'string' },
  'max-body-mb': { type: 'string' },
  'log-sample-rate': { type: 'string' },
  'log-chunk-records': { type: 'string' },
  'log-chunk-seconds': { type: 'string' },
  'log-retention-days': { type: 'string' },
  'no-prediction-log': { type: 'boolean' },
  'wait-for-model': { type: 'boolean' },
  'wait-for-port': { type: 'string' },
  'handover-ms': { type: 'string' },
  'drain-timeout-ms': { type: 'string' },
  'ready-file': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean' },
} as const;

type Values = { [K in keyof typeof options]?: (typeof options)[K]['type'] extends 'boolean' ? boolean : string };

/** A number option: undefined when absent, a `UsageError` naming the flag when not a number in range. */
function numberOption(values: Values, flag: keyof Values, check: (n: number) => boolean, expected: string): number | undefined {
  const raw = values[flag];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n) || !check(n)) throw new UsageError(`--${flag} got "${String(raw)}"; expected ${expected}.\n${serveUsage}`);
  return n;
}

const whole = (min: number) => (n: number) => Number.isInteger(n) && n >= min;

/** The bearer token: --token, the file --token-file names, or the environment; a `UsageError` for an unreadable or empty file. */
function tokenOption(values: Values, env: NodeJS.ProcessEnv): string | undefined {
  const file = values['token-file'];
  if (file === undefined) return values.token ?? (env[TOKEN_ENV] || undefined);
  if (values.token !== undefined) throw new UsageError('--token and --token-file exclude each other: give the token one way.');
  let token: string;
  try {
    token = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new UsageError(`--token-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); give a readable file holding the token.`);
  }
  if (token === '') throw new UsageError(`--token-file ${file} is empty; put the token in it.`);
  return token;
}

/** The server's options from the command line and environment. */
export function serveOptions(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ModelServerOptions & { help?: boolean } {
  let values: Values;
  try {
    ({ values } = parseArgs({ args: commandArgs(argv, options), options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}.\n${serveUsage}`);
  }
  if (values.help) return { store: '', help: true };
  const store = values.store ?? './data';
  checkStore(store);
  const level = values['log-level'] ?? 'info';
  if (!(logLevels as readonly string[]).includes(level)) throw new UsageError(`--log-level got "${level}"; expected one of ${logLevels.join(', ')}.`);
  if (values.alias !== undefined && values.version !== undefined) throw new UsageError('--alias and --version exclude each other: follow an alias, or pin one version.');
  const predictIn = (values['predict-in'] ?? DEFAULT_PREDICT_IN) as PredictIn;
  if (!PREDICT_IN.includes(predictIn)) throw new UsageError(`--predict-in got "${predictIn}"; expected ${PREDICT_IN.join(', ')}.\n${serveUsage}`);
  const chunkSeconds = numberOption(values, 'log-chunk-seconds', (n) => n > 0, 'a number of seconds > 0');
  const maxBodyMb = numberOption(values, 'max-body-mb', (n) => n > 0, 'a number of megabytes > 0');
  return {
    store,
    model: values.model,
    alias: values.alias,
    version: numberOption(values, 'version', whole(1), 'a version number (1, 2, ...)'),
    host: values.host,
    port: numberOption(values, 'port', (n) => whole(0)(n) && n <= 65535, 'a port 0-65535'),
    token: tokenOption(values, env),
    batching: {
      maxBatchSize: numberOption(values, 'max-batch-size', whole(1), 'a whole number >= 1') ?? DEFAULT_BATCHING.maxBatchSize,
      maxWaitMs: numberOption(values, 'max-wait-ms', (n) => n >= 0, 'a number of milliseconds >= 0') ?? DEFAULT_BATCHING.maxWaitMs,
    },
    predictIn,
    onnxThreads: numberOption(values, 'onnx-threads', whole(1), 'a whole number of threads >= 1'),
    pollMs: numberOption(values, 'poll-ms', (n) => n >= 10, 'a number of milliseconds >= 10'),
    maxBodyBytes: maxBodyMb === undefined ? undefined : Math.round(maxBodyMb * 1024 * 1024),
    predictionLog: values['no-prediction-log']
      ? false
      : {
          sampleRate: numberOption(values, 'log-sample-rate', (n) => n >= 0 && n <= 1, 'a fraction between 0 and 1'),
          chunkRecords: numberOption(values, 'log-chunk-records', whole(1), 'a whole number >= 1'),
          chunkMaxAgeMs: chunkSeconds === undefined ? undefined : chunkSeconds * 1000,
          retentionDays: numberOption(values, 'log-retention-days', (n) => n > 0, 'a number of days > 0'),
        },
    waitForModel: values['wait-for-model'],
    handoverMs: numberOption(values, 'handover-ms', (n) => n >= 0, 'a number of milliseconds >= 0'),
    drainTimeoutMs: numberOption(values, 'drain-timeout-ms', (n) => n >= 0, 'a number of milliseconds >= 0'),
    portWaitMs: numberOption(values, 'wait-for-port', (n) => n >= 0, 'a number of milliseconds >= 0'),
    readyFile: values['ready-file'],
    logger: createLogger({ level: level as LogLevel }),
  };
}

/** The `serve` command: runs until SIGINT/SIGTERM; returns the exit code. */
export async function serveCommand(argv: readonly string[], io: { out: (text: string) => void }): Promise<number> {
  const parsed = serveOptions(argv);
  if (parsed.help) {
    io.out(serveUsage);
    return 0;
  }
  const server = new ModelServer(parsed);
  return runInForeground(server, server.logger);
}
