/**
 * Training in PyTorch: the same preprocessed increment as the TF.js
 * training task, trained by train_mnist.py (Debian's python3-torch, through
 * the file protocol in tasks/python/python-step-protocol.ts) and written as an ONNX
 * model with its signature:
 *
 *   model.onnx, signature.json   the network (input NCHW, logits and embedding outputs)
 *   training.json                lineage: data hashes, parameters, PyTorch version, run id, final metrics
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Task, type TaskContext, type TaskResources } from '../../../src';
import { codeVersion } from '../../code-version';
import { float32, readDataset, uint8 } from '../../data/dataset-files';
import { dataParamsOf, type TrainParams, trainParams } from '../params';
import { type IncrementDetails, PreprocessIncrement } from '../preprocess-task';
import { MODEL_ONNX, SIGNATURE_JSON } from '../../onnx/signature';
import { directoryAt } from '../../store';
import { PythonStepError, runPythonJob } from '../../python/python-step-protocol';

export const PYTORCH_TRAINING_JSON = 'training.json';
/**
 * train_mnist.py: beside this file when run from TypeScript, else (compiled into dist/tasks/mnist/pytorch/,
 * where tsc copies no .py) at the same path under the package root, which the package ships (package.json "files").
 */
export function trainingScript(): string {
  const places = [join(__dirname, 'train_mnist.py'), join(__dirname, '..', '..', '..', '..', 'tasks', 'mnist', 'pytorch', 'train_mnist.py')];
  const found = places.find((p) => existsSync(p));
  if (!found) throw new PythonStepError(`the PyTorch training script train_mnist.py is not in ${places.join(' or ')}; reinstall dagwright (its package ships tasks/mnist/pytorch/train_mnist.py).`);
  return found;
}

export class TrainPytorchModel extends Task<TrainParams> {
  static override params = trainParams;
  override readonly version = '1';
  override readonly resources: TaskResources = { cpus: 2, memoryMb: 3072 };

  override requires() {
    return new PreprocessIncrement(dataParamsOf(this.params));
  }

  override output() {
    return directoryAt(this.params.store, 'mnist', 'pytorch-models', this.id);
  }

  async run(ctx: TaskContext): Promise<void> {
    const { epochs, batchSize, learningRate, seed, augmentShift } = this.params;
    const dataDir = this.input();
    const data = await readDataset<IncrementDetails>(dataDir);
    const details = data.manifest.details;
    const images = (name: string) => {
      const values = float32(data, name);
      return { values, shape: [values.length / 784, 28, 28, 1] };
    };
    const labels = (name: string) => ({ values: uint8(data, name), shape: [uint8(data, name).length] });
    ctx.tracking.logParams({ epochs, batchSize, learningRate, seed, augmentShift, framework: 'pytorch', increment: details.increment, trainImages: details.split.train });
    const job = await runPythonJob(
      {
        script: trainingScript(),
        settings: { epochs, batchSize, learningRate, seed, augmentShift, threads: 2 },
        tensors: { trainImages: images('trainImages'), trainLabels: labels('trainLabels'), validationImages: images('validationImages'), validationLabels: labels('validationLabels') },
      },
      ctx,
    );
    try {
      const [onnx, signature] = await Promise.all([readFile(join(job.outDir, MODEL_ONNX)), readFile(join(job.outDir, SIGNATURE_JSON))]);
      const { store: _store, ...params } = this.params;
      const record = {
        taskId: this.id,
        runId: ctx.runId,
        framework: 'pytorch',
        params,
        ...job.result,
        data: { uri: dataDir.uri, manifestSha256: data.manifestSha256, increment: details.increment, images: details.images, train: details.split.train, source: details.source },
        code: codeVersion(),
      };
      await this.output().write(async (dir) => {
        await dir.write(MODEL_ONNX, onnx);
        await dir.write(SIGNATURE_JSON, signature);
        await dir.write(PYTORCH_TRAINING_JSON, `${JSON.stringify(record, null, 2)}\n`);
      });
      ctx.logger.info({ final: job.result.final, output: this.output().uri }, 'PyTorch model written as ONNX');
    } finally {
      await job.cleanup();
    }
  }
}
