/**
 * Traffic for a model server, sent the way clients send it: plain HTTP
 * POSTs to the Open Inference Protocol route
 * `/v2/models/<model>/infer` with UINT8 (or FP32) images, a few requests in
 * flight at once. The server answers and logs each image, so the prediction
 * log fills as it does under real use.
 *
 *   npx ts-node tasks/drift/traffic.ts --url http://127.0.0.1:8080 --source optdigits --count 300
 *   npx ts-node tasks/drift/traffic.ts --source mnist-test+rotate:30 --count 200 --batch 8 --concurrency 4
 *
 * Options: --url (default http://127.0.0.1:8080), --model (mnist-digits),
 * --source (a data source name, see sources/source-spec.ts; default
 * mnist-test), --count (images, default 200), --batch (images per request,
 * 1), --concurrency (requests in flight, 4), --datatype UINT8|FP32, --seed,
 * --token (or DAGWRIGHT_SERVE_TOKEN), --store (for labels:<id> sources).
 */
import { parseArgs } from 'node:util';
import { DagwrightError, UsageError } from '../../src';
import { MNIST_PIXELS } from '../data/mnist-format';
import { type ImageBatch, sampleImages } from './sources/image-batch';
import { loadSource } from './sources/source-spec';

export interface TrafficOptions {
  readonly url: string;
  readonly model?: string;
  readonly images: ImageBatch;
  /** Images per request. Default 1. */
  readonly batchSize?: number;
  /** Requests in flight. Default 4. */
  readonly concurrency?: number;
  readonly datatype?: 'UINT8' | 'FP32';
  readonly token?: string;
  readonly signal?: AbortSignal;
}

export interface TrafficResult {
  readonly requests: number;
  readonly images: number;
  readonly failed: number;
  /** The first few failures: status and body. */
  readonly errors: string[];
  /** The label the server answered for each image (-1 where the request failed). */
  readonly predictions: Int32Array;
  /** Versions that answered, with the images each answered. */
  readonly versions: Record<string, number>;
  readonly seconds: number;
}

/** Thrown when the server cannot be reached at all. */
export class TrafficError extends DagwrightError {
  override readonly retryable = true;
}

async function postImages(options: TrafficOptions, start: number, n: number, id: string) {
  const { images, model = 'mnist-digits', datatype = 'UINT8' } = options;
  const pixels = images.pixels.subarray(start * MNIST_PIXELS, (start + n) * MNIST_PIXELS);
  const data = datatype === 'UINT8' ? Array.from(pixels) : Array.from(pixels, (v) => v / 255);
  const response = await fetch(`${options.url.replace(/\/$/, '')}/v2/models/${encodeURIComponent(model)}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) },
    body: JSON.stringify({ id, inputs: [{ name: 'image', shape: [n, 28, 28, 1], datatype, data }], outputs: [{ name: 'label' }] }),
    signal: options.signal,
  });
  const text = await response.text();
  if (!response.ok) return { ok: false as const, error: `HTTP ${response.status}: ${text.slice(0, 200)}` };
  const body = JSON.parse(text) as { model_version?: string; outputs: { name: string; data: number[] }[] };
  return { ok: true as const, version: String(body.model_version ?? '?'), labels: body.outputs.find((o) => o.name === 'label')?.data ?? [] };
}

/** Sends every image of the batch to the server; resolves when all requests are answered. */
export async function sendTraffic(options: TrafficOptions): Promise<TrafficResult> {
  const batchSize = options.batchSize ?? 1;
  const concurrency = options.concurrency ?? 4;
  const { images } = options;
  const predictions = new Int32Array(images.count).fill(-1);
  const versions: Record<string, number> = {};
  const errors: string[] = [];
  let failed = 0;
  let requests = 0;
  let next = 0;
  const started = Date.now();
  const worker = async () => {
    while (next < images.count) {
      const start = next;
      const n = Math.min(batchSize, images.count - start);
      next += n;
      requests++;
      let result;
      try {
        result = await postImages(options, start, n, `traffic-${started}-${start}`);
      } catch (err) {
        if (requests === 1 || errors.length === 0) throw new TrafficError(`cannot reach the model server at ${options.url}: ${(err as Error).message}. Is it running (dagwright serve)?`);
        result = { ok: false as const, error: (err as Error).message };
      }
      if (!result.ok) {
        failed += n;
        if (errors.length < 5) errors.push(result.error);
        continue;
      }
      versions[result.version] = (versions[result.version] ?? 0) + n;
      result.labels.forEach((label, i) => (predictions[start + i] = label));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, images.count)) }, worker));
  return { requests, images: images.count, failed, errors, predictions, versions, seconds: (Date.now() - started) / 1000 };
}

/** The share of images whose answered label is their true label. */
export function trafficAccuracy(result: TrafficResult, labels: Uint8Array): number {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (result.predictions[i] === labels[i]) correct++;
  return correct / labels.length;
}

const trafficUsage = `usage: npx ts-node tasks/drift/traffic.ts [options]

Sends images from a data source to a model server's /v2/models/<model>/infer, as clients do.

options:
  --url <url>             the server (default http://127.0.0.1:8080)
  --model <name>          the served model (default mnist-digits)
  --source <source>       a data source (sources/source-spec.ts), e.g. optdigits, mnist-test+rotate:30 (default mnist-test)
  --count <n>             images to send (default 200)
  --batch <n>             images per request (default 1)
  --concurrency <n>       requests in flight (default 4)
  --datatype UINT8|FP32   how images are sent (default UINT8)
  --seed <n>              the sample's seed (default 0)
  --token <t>             the server's token (or DAGWRIGHT_SERVE_TOKEN)
  --store <store>         for labels:<id> sources
  --help                  show this help

Exit codes: 0 every image answered, 1 some failed, 2 bad options.
`;

function parseTrafficArgs(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: {
        help: { type: 'boolean', default: false },
        url: { type: 'string', default: 'http://127.0.0.1:8080' },
        model: { type: 'string', default: 'mnist-digits' },
        source: { type: 'string', default: 'mnist-test' },
        count: { type: 'string', default: '200' },
        batch: { type: 'string', default: '1' },
        concurrency: { type: 'string', default: '4' },
        datatype: { type: 'string', default: 'UINT8' },
        seed: { type: 'string', default: '0' },
        token: { type: 'string' },
        store: { type: 'string' },
      },
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}. Run with --help for the options.`);
  }
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseTrafficArgs(argv);
  if (values.help) {
    process.stdout.write(trafficUsage);
    return 0;
  }
  const int = (name: string, text: string, min: number) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} got "${text}": expected a whole number >= ${min}`);
    return n;
  };
  if (values.datatype !== 'UINT8' && values.datatype !== 'FP32') throw new UsageError(`--datatype got "${values.datatype}": expected UINT8 or FP32`);
  const seed = int('seed', values.seed, 0);
  const images = sampleImages(await loadSource(values.source, { store: values.store, seed }), int('count', values.count, 1), seed);
  const result = await sendTraffic({
    url: values.url,
    model: values.model,
    images,
    batchSize: int('batch', values.batch, 1),
    concurrency: int('concurrency', values.concurrency, 1),
    datatype: values.datatype,
    token: values.token ?? process.env.DAGWRIGHT_SERVE_TOKEN,
  });
  const accuracy = images.labels ? trafficAccuracy(result, images.labels) : undefined;
  process.stdout.write(`${JSON.stringify({ source: values.source, ...result, predictions: undefined, accuracy })}\n`);
  return result.failed === 0 ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(err instanceof RangeError || err instanceof UsageError ? 2 : 1);
    },
  );
}
