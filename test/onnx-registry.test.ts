/**
 * ONNX in the registry: the export of a TF.js model trained on real MNIST
 * predicts what TF.js predicts (1,000 test images, within 1e-5); an export
 * fed wrongly is caught naming the largest difference; any ONNX model with a
 * signature is registered through the API and `registry add`, and a corrupt
 * or mismatched file is refused with a clear error and nothing written.
 */
import type * as tfjs from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryCli } from '../app/cli/registry';
import { buildModel } from '../tasks/mnist/model';
import { readMnistSplit, takeExamples } from '../tasks/mnist/mnist-data';
import { OnnxClassifier } from '../tasks/onnx/onnx-classifier';
import { checkOnnxParity, OnnxParityError } from '../tasks/onnx/parity';
import { registerOnnxModel } from '../tasks/onnx/register-onnx';
import { type ModelSignature, SignatureError } from '../tasks/onnx/signature';
import { exportToOnnx } from '../tasks/onnx/tfjs-to-onnx';
import { ModelRegistry } from '../tasks/registry/registry';
import { loadTensorFlow, type TensorFlow } from '../tasks/tf/tf-backend';

let tf: TensorFlow;
let model: tfjs.LayersModel;
let onnx: Uint8Array;
let signature: ModelSignature;
let test: { images: Float32Array; labels: Uint8Array };
let dir: string;

beforeAll(async () => {
  ({ tf } = await loadTensorFlow());
  dir = await mkdtemp(join(tmpdir(), 'onnx-registry-'));
  // A real (briefly) trained network: peaked probabilities, not the near-uniform ones of fresh weights.
  const train = takeExamples(await readMnistSplit('train'), 0, 1500);
  test = takeExamples(await readMnistSplit('t10k'), 0, 1000);
  model = buildModel(tf, { conv1Filters: 8, conv2Filters: 16, denseUnits: 32, seed: 3 });
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'sparseCategoricalCrossentropy' });
  const x = tf.tensor(train.images, [1500, 28, 28, 1]);
  const y = tf.tensor(Float32Array.from(train.labels), [1500, 1]);
  await model.fit(x, y, { epochs: 1, batchSize: 100, verbose: 0 });
  x.dispose();
  y.dispose();
  ({ onnx, signature } = exportToOnnx(model, { producerVersion: 'test' }));
}, 120_000);

afterAll(async () => {
  model?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('export of a TF.js model to ONNX', () => {
  it('predicts what TF.js predicts on 1,000 real MNIST test images within 1e-5, and classifies them', async () => {
    const parity = await checkOnnxParity(tf, model, onnx, signature, test.images, 1000);
    expect(parity.images).toBe(1000);
    expect(parity.maxAbsDifference).toBeLessThanOrEqual(1e-5);
    const classifier = await OnnxClassifier.open(onnx, signature);
    const { probabilities, embeddings } = await classifier.predict(test.images.slice(0, 200 * 784), 200, true);
    await classifier.release();
    let correct = 0;
    for (let i = 0; i < 200; i++) {
      const row = Array.from(probabilities.subarray(i * 10, i * 10 + 10));
      if (row.indexOf(Math.max(...row)) === test.labels[i]) correct++;
    }
    expect(correct / 200).toBeGreaterThan(0.7); // trained on 1,500 images for one epoch
    expect(embeddings?.length).toBe(200 * 32); // the dense layer before the scores
  });

  it('exports valid padding, max pooling (same and valid), dropout, tanh and sigmoid with the same predictions', async () => {
    const other = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 4, kernelSize: 3, padding: 'valid', activation: 'tanh', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
        tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
        tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'sigmoid', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
        tf.layers.maxPooling2d({ poolSize: 2, padding: 'valid' }),
        tf.layers.flatten(),
        tf.layers.dropout({ rate: 0.5 }),
        tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
      ],
    });
    const exported = exportToOnnx(other, { producerVersion: 'test' });
    const parity = await checkOnnxParity(tf, other, exported.onnx, exported.signature, test.images, 300);
    other.dispose();
    expect(parity.maxAbsDifference).toBeLessThanOrEqual(1e-5);
  });

  it('refuses a layer it cannot translate, naming it', () => {
    const other = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 2, kernelSize: 3 }), tf.layers.batchNormalization({ name: 'bn' }), tf.layers.flatten(), tf.layers.dense({ units: 10 })] });
    expect(() => exportToOnnx(other, { producerVersion: 'test' })).toThrow(/layer "bn" \(BatchNormalization\) cannot be exported to ONNX/);
    other.dispose();
  });

  it('fails naming the largest difference when the export does not predict what TF.js does', async () => {
    const wrong: ModelSignature = { ...signature, scaling: { divide: 1, mean: 0, std: 1 } }; // pixels 0-255 instead of [0, 1]
    const error = await checkOnnxParity(tf, model, onnx, wrong, test.images, 1000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OnnxParityError);
    expect((error as OnnxParityError).result.maxAbsDifference).toBeGreaterThan(1e-5);
    expect((error as Error).message).toMatch(/largest difference is \S+ \(image \d+, class \d: TF\.js \S+, ONNX \S+\), over the tolerance 0\.00001 on 1000 test images/);
  });
});

describe('registering an ONNX model with a signature', () => {
  it('registers a checked model with its lineage (file and sha256)', async () => {
    const registry = new ModelRegistry(join(dir, 'api'), 'digits');
    const { version, created } = await registerOnnxModel(registry, { onnx, signature, lineage: { file: '/models/cnn.onnx' }, metrics: { testAccuracy: 0.9 } });
    expect(created).toBe(true);
    expect(Object.keys(version.files).sort()).toEqual(['model.onnx', 'signature.json']);
    expect(version.lineage).toMatchObject({ file: '/models/cnn.onnx', format: 'onnx', onnxSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  const refused: [string, () => Uint8Array, () => unknown, RegExp][] = [
    ['a truncated file', () => onnx.subarray(0, onnx.length / 2), () => signature, /not a model ONNX Runtime can load/],
    ['a file that is not ONNX', () => Buffer.from('not a model'), () => signature, /not a model ONNX Runtime can load/],
    ['a wrong input shape', () => onnx, () => ({ ...signature, input: { ...signature.input, shape: [32, 32, 1] } }), /input "image" has shape \[batch, 28, 28, 1\] in the model, the signature says \[batch, 32, 32, 1\] \(NHWC\)/],
    ['a missing output', () => onnx, () => ({ ...signature, outputs: [...signature.outputs, 'logits'] }), /the model has no output "logits" \(its outputs: probabilities, embedding\)/],
    ['a wrong input name', () => onnx, () => ({ ...signature, input: { ...signature.input, name: 'x' } }), /the model has no input "x" \(its inputs: image\)/],
    ['too few class labels', () => onnx, () => ({ ...signature, classLabels: ['a', 'b'] }), /scores 10 classes but the signature lists 2 class labels/],
    ['a bad layout', () => onnx, () => ({ ...signature, input: { ...signature.input, layout: 'CHW' } }), /signature field "input.layout" is "CHW": expected "NCHW" or "NHWC"/],
  ];
  for (const [what, file, sig, message] of refused) {
    it(`refuses ${what} with a clear error and writes nothing`, async () => {
      const registry = new ModelRegistry(join(dir, `refused-${what.replace(/\W+/g, '-')}`), 'digits');
      const error = await registerOnnxModel(registry, { onnx: file(), signature: sig(), lineage: {} }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SignatureError);
      expect((error as Error).message).toMatch(message);
      expect(await registry.versions()).toEqual([]);
    });
  }
});

describe('dagwright registry add', () => {
  const cli = async (args: string[]) => {
    let out = '';
    let err = '';
    const code = await registryCli(args, (t) => (out += t), (t) => (err += t));
    return { code, out, err };
  };

  it('registers an ONNX file with its signature, run lineage and an alias; refuses a mismatch (exit 1) and bad usage (exit 2)', async () => {
    const store = join(dir, 'cli');
    await writeFile(join(dir, 'm.onnx'), onnx);
    await writeFile(join(dir, 'sig.json'), JSON.stringify(signature));
    await writeFile(join(dir, 'bad-sig.json'), JSON.stringify({ ...signature, input: { ...signature.input, shape: [1, 28, 28], layout: 'NCHW' } }));
    const ok = await cli(['add', '--store', store, '--onnx', join(dir, 'm.onnx'), '--signature', join(dir, 'sig.json'), '--run', 'run-7', '--metric', 'testAccuracy=0.91', '--alias', 'champion']);
    expect(ok).toMatchObject({ code: 0, out: 'registered mnist-digits version 1 (now champion)\n', err: '' });
    const shown = JSON.parse((await cli(['show', 'champion', '--store', store])).out);
    expect(shown).toMatchObject({ version: 1, metrics: { testAccuracy: 0.91 }, lineage: { run: 'run-7', file: join(dir, 'm.onnx') } });

    const mismatch = await cli(['add', '--store', store, '--onnx', join(dir, 'm.onnx'), '--signature', join(dir, 'bad-sig.json')]);
    expect(mismatch.code).toBe(1);
    expect(mismatch.err).toMatch(/^error: .*m\.onnx was not registered: input "image" has shape \[batch, 28, 28, 1\] in the model, the signature says \[batch, 1, 28, 28\] \(NCHW\)/);
    const usage = await cli(['add', '--store', store, '--onnx', join(dir, 'm.onnx')]);
    expect(usage).toMatchObject({ code: 2, out: '' });
    expect(usage.err).toMatch(/add needs --onnx <file.onnx> and --signature <signature.json>/);
    const missing = await cli(['add', '--store', store, '--onnx', join(dir, 'nope.onnx'), '--signature', join(dir, 'sig.json')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/cannot read the ONNX file .*nope\.onnx \(ENOENT\)/);
    expect((await new ModelRegistry(store, 'mnist-digits').versions()).length).toBe(1);
    expect(JSON.parse(await readFile(join(store, 'registry', 'mnist-digits', 'models', '1', 'signature.json'), 'utf8'))).toEqual(signature);
  });
});
