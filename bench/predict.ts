/**
 * In-process prediction speed of the MNIST network (DEFAULT_MODEL's
 * architecture, seeded weights) in one run: TensorFlow.js on its backend
 * (wasm here), the same model exported to ONNX on ONNX Runtime (CPU, 2
 * intra-op threads), and the same network in PyTorch (2 threads) when
 * /usr/bin/python3 has python3-torch. Images per second at batch 1 and 32,
 * as a program predicting on data it holds (a Float32Array in, the
 * probabilities read back).
 *
 *   npx ts-node --transpile-only bench/predict.ts [--seconds 2]
 *
 * The machine is shared: the ratios compare runtimes measured in the same
 * run, one after the other. Last line: one JSON object.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as tfjs from '@tensorflow/tfjs';
import { buildModel, DEFAULT_MODEL } from '../tasks/mnist/model';
import { OnnxClassifier } from '../tasks/onnx/onnx-classifier';
import type { ModelSignature } from '../tasks/onnx/signature';
import { exportToOnnx } from '../tasks/onnx/tfjs-to-onnx';
import { DEFAULT_PYTHON } from '../tasks/python/python-step-protocol';
import { loadTensorFlow, type TensorFlow } from '../tasks/tf/tf-backend';

const round = (n: number) => Math.round(n);

function features(batch: number): Float32Array {
  const out = new Float32Array(batch * 784);
  let state = 7;
  for (let i = 0; i < out.length; i++) out[i] = ((state = (state * 1103515245 + 12345) >>> 0) >>> 16) / 65536;
  return out;
}

/** Calls `once` for `ms` after a warm-up; images per second. */
async function timed(batch: number, ms: number, once: () => unknown): Promise<number> {
  for (let i = 0; i < 5; i++) await once();
  let calls = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    await once();
    calls++;
  }
  return (calls * batch) / ((performance.now() - start) / 1000);
}

export function tfjsPredictRate(tf: TensorFlow, model: tfjs.LayersModel, batch: number, ms: number): Promise<number> {
  const x = features(batch);
  return timed(batch, ms, () => {
    const y = tf.tidy(() => model.predict(tf.tensor(x, [batch, 28, 28, 1])) as tfjs.Tensor);
    y.dataSync();
    y.dispose();
  });
}

/** Images per second of ONNX Runtime on `onnx` at `batch` (the classifier as the server uses it). */
export async function onnxPredictRate(onnx: Uint8Array, signature: ModelSignature, batch: number, ms: number): Promise<number> {
  const classifier = await OnnxClassifier.open(onnx, signature);
  try {
    const x = features(batch);
    return await timed(batch, ms, () => classifier.predict(x, batch));
  } finally {
    await classifier.release();
  }
}

/** Debian's OpenBLAS (OpenMP build), as ../shared/bench/pytorch uses: with the reference BLAS torch's dense layers are ~10x slower. */
const OPENBLAS = '/usr/lib/x86_64-linux-gnu/openblas-openmp';

/** The environment for PyTorch's process alone: OpenBLAS first on its library path when installed (libopenblas0-openmp). */
function torchEnv(): NodeJS.ProcessEnv {
  if (!existsSync(path.join(OPENBLAS, 'libblas.so.3'))) return process.env;
  return { ...process.env, LD_LIBRARY_PATH: [OPENBLAS, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
}

/** PyTorch's rates from bench/predict_torch.py, or the reason it could not run. */
function torchRates(seconds: number): { b1: number; b32: number; torch: string } | string {
  try {
    const out = execFileSync(process.env.DAGWRIGHT_PYTHON || DEFAULT_PYTHON, [path.join(__dirname, 'predict_torch.py'), String(seconds), '2'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: torchEnv() });
    return JSON.parse(out.trim().split('\n').at(-1)!);
  } catch (err) {
    return `PyTorch not measured: ${(err as Error).message.split('\n').find((l) => /Error|No module/.test(l)) ?? (err as Error).message.split('\n')[0]}`;
  }
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--seconds');
  const seconds = i >= 0 ? Number(process.argv[i + 1]) : 2;
  const { tf, backend } = await loadTensorFlow();
  const model = buildModel(tf, { ...DEFAULT_MODEL, seed: 1 });
  const { onnx, signature } = exportToOnnx(model, { producerVersion: 'bench' });
  console.log(`${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(2)}; TF.js backend ${backend}`);
  const rates: Record<string, number | null> = {};
  for (const batch of [1, 32]) {
    rates[`${backend}_b${batch}`] = await tfjsPredictRate(tf, model, batch, seconds * 1000);
    rates[`onnxruntime_b${batch}`] = await onnxPredictRate(onnx, signature, batch, seconds * 1000);
    console.log(`batch ${batch}: ${backend} ${round(rates[`${backend}_b${batch}`]!)} images/s, ONNX Runtime ${round(rates[`onnxruntime_b${batch}`]!)} images/s`);
  }
  model.dispose();
  const torch = torchRates(seconds);
  if (typeof torch === 'string') console.log(torch);
  else console.log(`PyTorch ${torch.torch} (2 threads): batch 1 ${round(torch.b1)} images/s, batch 32 ${round(torch.b32)} images/s`);
  const t = typeof torch === 'string' ? undefined : torch;
  const ratio = (a: number | undefined, b: number | undefined) => (a && b ? Number((a / b).toFixed(2)) : null);
  console.log(
    JSON.stringify({
      bench: 'predict',
      backend,
      [`${backend}_b1`]: round(rates[`${backend}_b1`]!),
      [`${backend}_b32`]: round(rates[`${backend}_b32`]!),
      onnxruntime_b1: round(rates.onnxruntime_b1!),
      onnxruntime_b32: round(rates.onnxruntime_b32!),
      pytorch_b1: t ? round(t.b1) : null,
      pytorch_b32: t ? round(t.b32) : null,
      ort_vs_pytorch_b32: ratio(rates.onnxruntime_b32!, t?.b32),
      ort_vs_pytorch_b1: ratio(rates.onnxruntime_b1!, t?.b1),
      ort_vs_tfjs_b32: ratio(rates.onnxruntime_b32!, rates[`${backend}_b32`]!),
      tfjs_vs_pytorch_b32: ratio(rates[`${backend}_b32`]!, t?.b32),
      loadavg: Number(os.loadavg()[0].toFixed(2)),
    }),
  );
}

if (require.main === module) {
  void main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
