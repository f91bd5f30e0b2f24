/**
 * The file protocol between a task and a Python script (tasks/python/python-step-protocol.ts),
 * with real Python (/usr/bin/python3, no PyTorch needed): the job folder the
 * script reads, metrics.jsonl reaching the run's tracking, result.json as the
 * sign of success, and a failure reported with the script's last lines.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, taskContext } from '../src/public/runtime';
import { noTracking } from '../src/public/tracking';
import { DEFAULT_PYTHON, parseMetricLines, PythonStepError, runPythonJob } from '../tasks/python/python-step-protocol';

const python = process.env.DAGWRIGHT_PYTHON || DEFAULT_PYTHON;
let dir: string;

const script = `
import json, os, sys
job_dir, out_dir = sys.argv[1], sys.argv[2]
job = json.load(open(os.path.join(job_dir, "job.json")))
spec = job["tensors"]["x"]
data = open(os.path.join(job_dir, spec["file"]), "rb").read()
with open(os.path.join(out_dir, "metrics.jsonl"), "a") as m:
    for step in (1, 2):
        m.write(json.dumps({"key": "loss", "value": job["scale"] / step, "step": step}) + "\\n")
    m.write('{"key": "half a li')
print("working", file=sys.stderr)
if job["fail"]:
    print("something broke", file=sys.stderr)
    sys.exit(3)
json.dump({"bytes": len(data), "shape": spec["shape"], "dtype": spec["dtype"]}, open(os.path.join(out_dir, "result.json"), "w"))
`;

function context() {
  const metrics: [string, number, number | undefined][] = [];
  const ctx = taskContext({ runId: 'r1', taskId: 't1', attempt: 1, signal: new AbortController().signal, logger: createLogger({ level: 'silent' }) });
  return { metrics, ctx: { ...ctx, tracking: { ...noTracking, logMetric: (k: string, v: number, s?: number) => void metrics.push([k, v, s]) } } };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'python-step-'));
  await writeFile(join(dir, 'job.py'), script);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe.skipIf(!existsSync(python))('a Python step through the file protocol', () => {
  it('hands the script its job and tensors, sends its metrics to tracking and reads its result', async () => {
    const { ctx, metrics } = context();
    const job = await runPythonJob({ script: join(dir, 'job.py'), settings: { scale: 4, fail: false }, tensors: { x: { values: new Float32Array(6), shape: [2, 3] } } }, ctx, python);
    try {
      expect(job.result).toEqual({ bytes: 24, shape: [2, 3], dtype: 'float32' });
      expect(metrics).toEqual([['loss', 4, 1], ['loss', 2, 2]]);
      expect(existsSync(job.outDir)).toBe(true);
    } finally {
      await job.cleanup();
    }
    expect(existsSync(job.outDir)).toBe(false);
  });

  it('reports a failed script with its exit code and last lines, after passing on the metrics it wrote', async () => {
    const { ctx, metrics } = context();
    const error = await runPythonJob({ script: join(dir, 'job.py'), settings: { scale: 1, fail: true }, tensors: { x: { values: new Uint8Array(2), shape: [2] } } }, ctx, python).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PythonStepError);
    expect((error as Error).message).toMatch(/job\.py ended with exit code 3 without result\.json\. Its last lines:\nworking\nsomething broke/);
    expect(metrics.length).toBe(2);
  });

  it('says how to install PyTorch when the script cannot import it', async () => {
    await writeFile(join(dir, 'needs-torch.py'), 'import torch_that_is_not_there as torch\n');
    const error = await runPythonJob({ script: join(dir, 'needs-torch.py'), settings: {}, tensors: {} }, context().ctx, python).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/No module named 'torch_that_is_not_there'/);
    await writeFile(join(dir, 'no-torch.py'), 'raise ModuleNotFoundError("No module named \'torch\'")\n');
    const missing = await runPythonJob({ script: join(dir, 'no-torch.py'), settings: {}, tensors: {} }, context().ctx, python).catch((e: unknown) => e);
    expect((missing as Error).message).toMatch(/has no PyTorch: install Debian's python3-torch \(apt-get install -y python3-torch\)/);
  });
});

it('reads metric lines, skipping blank and cut-short ones', () => {
  expect(parseMetricLines('{"key":"a","value":1}\n\n{"key":"b","value":2,"step":3}\n{"key":"c","val')).toEqual([{ key: 'a', value: 1 }, { key: 'b', value: 2, step: 3 }]);
});
