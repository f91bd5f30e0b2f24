/**
 * The drift reference of one registered model version, computed once and
 * kept beside the version in the registry folder, so no check recomputes it:
 *
 *   <store>/registry/<model>/drift-reference/<version>/   a directory target:
 *     probabilities.f32, embeddings.f32, imageStats.f32, labels.u8, manifest.json
 *
 * By default from the validation images of the data the version was trained
 * on (its lineage's `data.uri`, held out from training, so the model's
 * confidence there is what it shows on new data of the same kind); or from a
 * named data source (`--reference-source`). MNIST's validation images come
 * from the writers of its training set, while traffic comes from new writers;
 * measured (bench:drift's writer check, MNIST model v1 of the bench), that
 * costs nothing: in-distribution windows of MNIST's test set (other writers)
 * raise 3.25% false alarms against the validation reference (2,000 windows)
 * and 4.3% on average against references drawn from the test set itself (ten
 * splits), so the generic default needs no MNIST-specific reference.
 */
import { directoryTarget, param, Task, type TaskContext } from '../../src';
import { float32, readDataset, uint8, writeDataset } from '../data/dataset-files';
import { ModelRegistry } from '../registry/registry';
import { directoryAt } from '../store';
import { driftReferenceDirectory } from '../store-layout';
import { mulberry32, shuffledIndices } from '../data/seeded-random';
import type { DriftFeatures } from './features';
import { versionDriftFeatures } from '../onnx/version-drift-features';
import { pickImages, type ImageBatch } from './sources/image-batch';
import { loadSource } from './sources/source-spec';
import { DriftDataError } from './errors';

export interface ReferenceParams {
  store: string;
  modelName: string;
  version: number;
  referenceSource?: string;
  referenceSize?: number;
}

/** What the reference manifest's `details` hold. */
export interface ReferenceDetails {
  readonly kind: 'drift-reference';
  readonly model: string;
  readonly version: number;
  readonly contentSha256: string;
  readonly count: number;
  readonly classes: number;
  readonly embeddingDim: number;
  readonly data: { readonly source: string; readonly uri?: string; readonly manifestSha256?: string };
}

export const referenceParams = {
  store: param.string({ description: 'store folder or s3:// prefix', significant: false }),
  modelName: param.string({ default: 'mnist-digits', pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, description: 'registered model name' }),
  version: param.int({ min: 1, description: 'registered version the reference is for' }),
  referenceSource: param.string({ default: '', description: "data source for the reference ('' = the version's validation images)" }),
  referenceSize: param.int({ min: 10, default: 3000, description: 'at most this many reference images (a seeded sample)' }),
};

/** The directory a version's reference lives in. */
export function referenceTarget(store: string, model: string, version: number) {
  return driftReferenceDirectory(store, model, version);
}

/** Reads a reference back (checking hashes) as features. */
export async function readReference(store: string, model: string, version: number): Promise<{ features: DriftFeatures; details: ReferenceDetails }> {
  const data = await readDataset<ReferenceDetails>(referenceTarget(store, model, version));
  const d = data.manifest.details;
  return {
    details: d,
    features: {
      count: d.count,
      classes: d.classes,
      embeddingDim: d.embeddingDim,
      probabilities: float32(data, 'probabilities'),
      embeddings: float32(data, 'embeddings'),
      imageStats: float32(data, 'imageStats'),
    },
  };
}

async function validationImages(uri: string): Promise<{ batch: ImageBatch; manifestSha256: string }> {
  const data = await readDataset(directoryTarget(uri), ['validationImages', 'validationLabels']);
  const images = float32(data, 'validationImages');
  const pixels = Uint8Array.from(images, (v) => Math.round(v * 255));
  const labels = uint8(data, 'validationLabels');
  return { batch: { name: 'validation', count: labels.length, pixels, labels }, manifestSha256: data.manifestSha256 };
}

export class DriftReference extends Task<ReferenceParams> {
  static override params = referenceParams;
  override readonly version = '1';

  override output() {
    return referenceTarget(this.params.store, this.params.modelName, this.params.version);
  }

  async run(ctx: TaskContext): Promise<void> {
    const { store, modelName, version, referenceSource, referenceSize } = this.params as Required<ReferenceParams>;
    const registry = new ModelRegistry(store, modelName);
    const record = await registry.version(version);
    let batch: ImageBatch;
    let data: ReferenceDetails['data'];
    if (referenceSource) {
      batch = await loadSource(referenceSource, { store });
      data = { source: referenceSource };
    } else {
      const uri = (record.lineage.data as { uri?: unknown } | undefined)?.uri;
      if (typeof uri !== 'string') throw new DriftDataError(`${modelName} version ${version} records no training data (lineage.data.uri); pass --reference-source <data source>`);
      const v = await validationImages(uri);
      batch = v.batch;
      data = { source: 'validation', uri, manifestSha256: v.manifestSha256 };
    }
    if (batch.count > referenceSize) batch = pickImages(batch, shuffledIndices(batch.count, mulberry32(version)).subarray(0, referenceSize));
    const f = await versionDriftFeatures(store, modelName, version, batch.pixels, batch.count);
    const details: ReferenceDetails = { kind: 'drift-reference', model: modelName, version, contentSha256: record.contentSha256, count: f.count, classes: f.classes, embeddingDim: f.embeddingDim, data };
    await this.output().write(async (dir) => {
      await writeDataset(
        dir,
        {
          probabilities: { values: f.probabilities, shape: [f.count, f.classes] },
          embeddings: { values: f.embeddings, shape: [f.count, f.embeddingDim] },
          imageStats: { values: f.imageStats, shape: [f.count, 4] },
          labels: { values: batch.labels ?? new Uint8Array(f.count), shape: [f.count] },
        },
        details,
      );
    });
    ctx.logger.info({ model: modelName, version, count: f.count, output: this.output().uri }, `drift reference for ${modelName} v${version}: ${f.count} images`);
  }
}
