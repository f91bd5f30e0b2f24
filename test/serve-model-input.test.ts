/**
 * A client that sends the ONNX model's own input (the name, shape and
 * layout V2 metadata gives as `model_input`) instead of the server's `image`
 * tensor gets the same answer: by the adapter (an NCHW colour input is
 * turned into the server's NHWC), and from a served ONNX version whose input
 * is named "input".
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/public/runtime';
import { registerOnnxModel } from '../tasks/onnx/register-onnx';
import { exportToOnnx } from '../tasks/onnx/tfjs-to-onnx';
import { ModelRegistry } from '../tasks/registry/registry';
import { type ModelServer, serveModel } from '../tasks/serving';
import { imageClassifierAdapter } from '../tasks/serving/runtime/image-adapter';
import { call, testImages } from './fixtures/serve-client';
import { seededModel } from './fixtures/serve-models';

describe('the image adapter and the model\'s own input', () => {
  const rgb = imageClassifierAdapter({ inputName: 'image', height: 2, width: 2, channels: 3, classes: 2 });
  const nchw = { name: 'pixels', shape: [3, 2, 2], layout: 'NCHW' as const };
  // One 2x2 RGB image: NHWC lists each pixel's r, g, b; NCHW lists the r plane, then g, then b.
  const nhwcPixels = [10, 20, 30, 11, 21, 31, 12, 22, 32, 13, 23, 33];
  const nchwPixels = [10, 11, 12, 13, 20, 21, 22, 23, 30, 31, 32, 33];

  it('takes the model\'s input by name in its NCHW shape, as the same image in NHWC', () => {
    const expected = rgb.decodeTensors([{ name: 'image', shape: [1, 2, 2, 3], datatype: 'UINT8', data: nhwcPixels }]);
    const own = rgb.decodeTensors([{ name: 'pixels', shape: [1, 3, 2, 2], datatype: 'UINT8', data: nchwPixels }], nchw);
    expect(own.pixels).toEqual(expected.pixels);
    expect(own.features).toEqual(expected.features);
    const instances = rgb.decodeInstances({ pixels: [nchwPixels] }, 'UINT8', nchw);
    expect(instances.pixels).toEqual(expected.pixels);
    const records = rgb.decodeInstances([{ pixels: nchwPixels }, { image: nhwcPixels }], 'UINT8', nchw);
    expect(records.pixels).toEqual(Uint8Array.from([...nhwcPixels, ...nhwcPixels]));
  });

  it('names both inputs and every accepted shape when a request fits neither', () => {
    expect(() => rgb.decodeTensors([{ name: 'x', shape: [1, 3, 2, 2], datatype: 'UINT8', data: nchwPixels }], nchw)).toThrow('inputs[0].name is "x": this model\'s input is "image" (or the model\'s own "pixels").');
    expect(() => rgb.decodeTensors([{ name: 'pixels', shape: [1, 2, 3, 2], datatype: 'UINT8', data: nchwPixels }], nchw)).toThrow('input shape [1,2,3,2] is not accepted: expected [n,2,2,3] or [n,12] or [n,3,2,2] (NCHW) with n >= 1.');
    expect(() => rgb.decodeTensors([{ name: 'pixels', shape: [1, 3, 2, 2], datatype: 'UINT8', data: nchwPixels }])).toThrow('this model\'s input is "image".');
  });
});

describe('a served ONNX version whose input is named "input"', () => {
  let store: string;
  let server: ModelServer;

  beforeAll(async () => {
    store = await mkdtemp(join(tmpdir(), 'serve-model-input-'));
    const source = await seededModel(21);
    const exported = exportToOnnx(source, { producerVersion: 'test' });
    source.dispose();
    // The export names its input "image"; the same five letters renamed in the file (graph input and node input alike).
    const onnx = Buffer.from(Buffer.from(exported.onnx).toString('latin1').split('image').join('input'), 'latin1');
    const signature = { ...exported.signature, input: { ...exported.signature.input, name: 'input' } };
    const registry = new ModelRegistry(store, 'mnist-digits');
    const { version } = await registerOnnxModel(registry, { onnx, signature, lineage: { file: 'renamed.onnx' } });
    await registry.setAlias('champion', version.version, 'test');
    server = await serveModel({ store, port: 0, logger: createLogger({ level: 'silent' }), predictionLog: false });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await rm(store, { recursive: true, force: true });
  });

  it('answers a request naming the model\'s input as one naming "image", over V2 and MLflow', async () => {
    const meta = (await call(`${server.url}/v2/models/mnist-digits`)).body;
    expect(meta.parameters.model_input).toEqual({ name: 'input', shape: [-1, 28, 28, 1], datatype: 'FP32', layout: 'NHWC' });
    const pixels = Array.from(testImages(3, 5));
    const infer = (name: string) => call(`${server.url}/v2/models/mnist-digits/infer`, { body: { inputs: [{ name, shape: [3, 28, 28, 1], datatype: 'UINT8', data: pixels }] } });
    const [byImage, byOwnName] = await Promise.all([infer('image'), infer('input')]);
    expect(byOwnName.status).toBe(200);
    expect(byOwnName.body.outputs).toEqual(byImage.body.outputs);
    const mlflow = await call(`${server.url}/invocations`, { body: { inputs: { input: [pixels.slice(0, 784)] }, params: { datatype: 'UINT8' } } });
    expect(mlflow.status).toBe(200);
    expect(mlflow.body.predictions[0].probabilities).toEqual(byImage.body.outputs[0].data.slice(0, 10));
    const wrong = await infer('pixels');
    expect(wrong).toMatchObject({ status: 400, body: { error: 'inputs[0].name is "pixels": this model\'s input is "image" (or the model\'s own "input").' } });
  });
});
