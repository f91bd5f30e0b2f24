/**
 * TensorFlow.js model IO over dagwright targets: a save handler that writes
 * `model.json` + `weights.bin` into a directory target being written, and a
 * load handler that reads them back from a published one. Everything goes
 * through the target's file system, so the same code saves to and loads from
 * local disk or S3.
 */
import type * as tfjs from '@tensorflow/tfjs';
import type { DirectoryTarget } from '../../src';
import type { DirectoryWriter } from '../../src/public/store';
import type { TensorFlow } from '../tf/tf-backend';
import { ModelShapeError } from './errors';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/** The bytes of a saved model, as written to its directory. */
export interface ModelFiles {
  readonly modelJson: Uint8Array;
  readonly weights: Uint8Array;
}

/** Turns the artifacts `model.save()` hands over into the two files of the tfjs layers format. */
export function modelFilesFor(tf: TensorFlow, artifacts: tfjs.io.ModelArtifacts): ModelFiles {
  if (artifacts.modelTopology instanceof ArrayBuffer) throw new ModelShapeError('saving binary model topologies is not supported; save a LayersModel');
  const weights = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
  const modelJson: tfjs.io.ModelJSON = {
    modelTopology: artifacts.modelTopology as object,
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy,
    ...(artifacts.trainingConfig === undefined ? {} : { trainingConfig: artifacts.trainingConfig }),
    ...(artifacts.userDefinedMetadata === undefined ? {} : { userDefinedMetadata: artifacts.userDefinedMetadata }),
    weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
  };
  return { modelJson: Buffer.from(JSON.stringify(modelJson)), weights: new Uint8Array(weights) };
}

/**
 * A save handler for `model.save(...)` that writes the model into `dir`, the
 * writer `DirectoryTarget.write` hands to its fill function:
 *
 *     await target.write(async (dir) => { await model.save(directorySaveHandler(tf, dir)); });
 */
export function directorySaveHandler(tf: TensorFlow, dir: DirectoryWriter, onSaved?: (files: ModelFiles) => void): tfjs.io.IOHandler {
  return tf.io.withSaveHandler(async (artifacts) => {
    const files = modelFilesFor(tf, artifacts);
    await dir.write(MODEL_JSON, files.modelJson);
    await dir.write(WEIGHTS_BIN, files.weights);
    onSaved?.(files);
    return {
      modelArtifactsInfo: {
        dateSaved: new Date(),
        modelTopologyType: 'JSON',
        modelTopologyBytes: files.modelJson.byteLength,
        weightSpecsBytes: JSON.stringify(artifacts.weightSpecs ?? []).length,
        weightDataBytes: files.weights.byteLength,
      },
    };
  });
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** A load handler for `tf.loadLayersModel(...)` that reads `model.json` and its weight files from a published directory target. */
export function directoryLoadHandler(tf: TensorFlow, target: DirectoryTarget): tfjs.io.IOHandler {
  return {
    load: async () => {
      const modelJson = await target.file(MODEL_JSON).readJson<tfjs.io.ModelJSON>();
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const paths = manifest.flatMap((group) => group.paths.map((p) => p.replace(/^\.\//, '')));
        const buffers = await Promise.all(paths.map(async (p) => toArrayBuffer(await target.file(p).readBytes())));
        return [tf.io.getWeightSpecs(manifest), tf.io.CompositeArrayBuffer.join(buffers)];
      });
    },
  };
}

/** The files `model` saves to, in memory (to hash them before anything is published). */
export async function serializeModel(tf: TensorFlow, model: tfjs.LayersModel): Promise<ModelFiles> {
  let files: ModelFiles | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      files = modelFilesFor(tf, artifacts);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return files!;
}

/** Writes serialised model files into a directory being written. */
export async function writeModelFiles(dir: DirectoryWriter, files: ModelFiles): Promise<void> {
  await dir.write(MODEL_JSON, files.modelJson);
  await dir.write(WEIGHTS_BIN, files.weights);
}

/** Saves `model` into the directory target, publishing it whole (with whatever `extra` writes); returns the bytes written. */
export async function saveModelTo(
  tf: TensorFlow,
  model: tfjs.LayersModel,
  target: DirectoryTarget,
  extra?: (dir: DirectoryWriter) => Promise<void>,
): Promise<ModelFiles> {
  let saved: ModelFiles | undefined;
  await target.write(async (dir) => {
    await model.save(directorySaveHandler(tf, dir, (files) => (saved = files)));
    await extra?.(dir);
  });
  return saved!;
}

/** Loads a layers model saved by `saveModelTo` (or any tfjs layers model folder) from a directory target. */
export function loadModelFrom(tf: TensorFlow, target: DirectoryTarget): Promise<tfjs.LayersModel> {
  return tf.loadLayersModel(directoryLoadHandler(tf, target));
}
