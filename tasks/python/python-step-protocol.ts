/**
 * The file protocol between a dagwright task and a training script in
 * Python (no Python package of ours needed): the task writes a job folder
 * (`job.json` and raw little-endian tensor files), runs the script with
 * `JOB_DIR OUT_DIR`, and reads back what it wrote in OUT_DIR:
 *
 *   metrics.jsonl   one {"key", "value", "step"?} a line, appended while training: they go to the run's tracking
 *   model.onnx, signature.json   the model (see tasks/onnx/signature.ts)
 *   result.json     written last: a script that ends without it failed
 *
 * The script's stderr goes to the task's log line by line; it is stopped
 * (SIGTERM) when the run is cancelled.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DagwrightError, type TaskContext } from '../../src';
import { tensorBytes } from '../data/tensor-file';

/** The Python that has Debian's python3-torch (the first python3 on PATH may be another build). */
export const DEFAULT_PYTHON = '/usr/bin/python3';

/** The Python step failed: the message has its last stderr lines and, when torch is missing, how to install it. */
export class PythonStepError extends DagwrightError {}

export interface PythonJob {
  readonly script: string;
  /** What job.json holds besides `tensors`. */
  readonly settings: Readonly<Record<string, unknown>>;
  readonly tensors: Readonly<Record<string, { readonly values: Float32Array | Uint8Array; readonly shape: readonly number[] }>>;
}

export interface TrackedMetric {
  readonly key: string;
  readonly value: number;
  readonly step?: number;
}

/** Parses metrics.jsonl; a line that is not a metric is skipped (a script cut short may leave half a line). */
export function parseMetricLines(text: string): TrackedMetric[] {
  const metrics: TrackedMetric[] = [];
  for (const line of text.split('\n')) {
    try {
      const m = JSON.parse(line) as TrackedMetric;
      if (typeof m.key === 'string' && typeof m.value === 'number' && (m.step === undefined || Number.isInteger(m.step))) metrics.push(m);
    } catch {
      // blank or partial line
    }
  }
  return metrics;
}

async function writeJob(dir: string, job: PythonJob): Promise<void> {
  const tensors: Record<string, { file: string; dtype: string; shape: readonly number[] }> = {};
  for (const [name, t] of Object.entries(job.tensors)) {
    const dtype = t.values instanceof Float32Array ? 'float32' : 'uint8';
    tensors[name] = { file: `${name}.${dtype === 'float32' ? 'f32' : 'u8'}`, dtype, shape: t.shape };
    await writeFile(join(dir, tensors[name].file), tensorBytes(t.values));
  }
  await writeFile(join(dir, 'job.json'), JSON.stringify({ ...job.settings, tensors }));
}

function run(python: string, args: string[], ctx: TaskContext): Promise<{ code: number | null; tail: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
    const tail: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (line) => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      ctx.logger.info({ python: true }, line);
    });
    const stop = () => child.kill('SIGTERM');
    ctx.signal.addEventListener('abort', stop, { once: true });
    child.on('error', (err) => reject(new PythonStepError(`cannot run ${python} (${err.message}); install Python 3 or set DAGWRIGHT_PYTHON.`)));
    child.on('close', (code) => {
      ctx.signal.removeEventListener('abort', stop);
      resolve({ code, tail });
    });
  });
}

/** Runs the job; returns the output folder (the caller removes it with `cleanup`) and the tracked metrics. */
export async function runPythonJob(job: PythonJob, ctx: TaskContext, python = process.env.DAGWRIGHT_PYTHON || DEFAULT_PYTHON) {
  const jobDir = await mkdtemp(join(tmpdir(), 'dagwright-py-job-'));
  const outDir = await mkdtemp(join(tmpdir(), 'dagwright-py-out-'));
  const cleanup = () => Promise.all([rm(jobDir, { recursive: true, force: true }), rm(outDir, { recursive: true, force: true })]).then(() => undefined);
  try {
    await writeJob(jobDir, job);
    const { code, tail } = await run(python, [job.script, jobDir, outDir], ctx);
    const metrics = parseMetricLines(await readFile(join(outDir, 'metrics.jsonl'), 'utf8').catch(() => ''));
    for (const m of metrics) ctx.tracking.logMetric(m.key, m.value, m.step);
    if (ctx.signal.aborted) throw new PythonStepError('the Python step was stopped (run cancelled).');
    const result = await readFile(join(outDir, 'result.json'), 'utf8').catch(() => undefined);
    if (code !== 0 || result === undefined) {
      const hint = tail.some((l) => /No module named '(torch|numpy)'/.test(l)) ? ` ${python} has no PyTorch: install Debian's python3-torch (apt-get install -y python3-torch).` : '';
      throw new PythonStepError(`${job.script} ended with exit code ${code} without result.json.${hint} Its last lines:\n${tail.join('\n')}`);
    }
    return { outDir, metrics, result: JSON.parse(result) as Record<string, unknown>, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
