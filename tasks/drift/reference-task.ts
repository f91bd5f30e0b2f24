/**
 * The drift reference of one registered model version, computed once and
 * kept beside the version in the registry folder, so no check recomputes it:
 *
 *   <store>/registry/<model>/drift-reference/<version>/   a directory target:
 *     probabilities.f32, embeddings.f32, imageStats.f32, labels.u8,
 *     sources.u8, heldOut.u8, manifest.json
 *
 * By default drawn from the data the version's lineage names (`data.uri`),
 * stratified by source, held-out images first (reference-sample.ts says
 * how): a version retrained on MNIST plus labelled batches gets a reference
 * in which each source has its share of the data's distinct images, not the
 * mix a validation split happens to hold. Or from a named data source
 * (`--reference-source`). MNIST's held-out images come from the writers of
 * its training set, while traffic comes from new writers; measured
 * (bench:drift's writer check, MNIST model v1 of the bench), that costs
 * nothing: in-distribution windows of MNIST's test set (other writers) raise
 * 3.25% false alarms against the validation reference (2,000 windows) and
 * 4.3% on average against references drawn from the test set itself (ten
 * splits), so the generic default needs no MNIST-specific reference.
 */
import { param, Task, type TaskContext } from '../../src';
import { float32, readDataset, writeDataset } from '../data/dataset-files';
import { ModelRegistry } from '../registry/registry';
import { driftReferenceDirectory } from '../store-layout';
import { mulberry32, shuffledIndices } from '../data/seeded-random';
import type { DriftFeatures } from './features';
import { versionDriftFeatures } from '../onnx/version-drift-features';
import { pickImages, type ImageBatch } from './sources/image-batch';
import { loadSource } from './sources/source-spec';
import { type ReferenceStratum, sampleTrainingData } from './reference-sample';
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
  /** `source` 'lineage' (drawn from the version's data at `uri`, by source: `strata`) or the --reference-source given. */
  readonly data: { readonly source: string; readonly uri?: string; readonly manifestSha256?: string; readonly strata?: readonly ReferenceStratum[] };
}

/** Tensors of a reference drawn from lineage: each image's stratum, and whether the version was trained on it. */
export const REFERENCE_SOURCES = 'sources';
export const REFERENCE_HELD_OUT = 'heldOut';

export const referenceParams = {
  store: param.string({ description: 'store folder or s3:// prefix', significant: false }),
  modelName: param.string({ default: 'mnist-digits', pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, description: 'registered model name' }),
  version: param.int({ min: 1, description: 'registered version the reference is for' }),
  referenceSource: param.string({ default: '', description: "data source for the reference ('' = the version's training data by source, held-out images first)" }),
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

interface ReferenceImages {
  readonly batch: ImageBatch;
  readonly data: ReferenceDetails['data'];
  /** Extra tensors (a lineage sample's sources and held-out flags). */
  readonly tensors: Record<string, Uint8Array>;
}

/** The reference's images: from the data source given, or from the version's data named in its lineage. */
async function referenceImages(p: Required<ReferenceParams>, lineage: Readonly<Record<string, unknown>>): Promise<ReferenceImages> {
  const { store, modelName, version, referenceSource, referenceSize } = p;
  if (referenceSource) {
    let batch = await loadSource(referenceSource, { store });
    if (batch.count > referenceSize) batch = pickImages(batch, shuffledIndices(batch.count, mulberry32(version)).subarray(0, referenceSize));
    return { batch, data: { source: referenceSource }, tensors: {} };
  }
  const uri = (lineage.data as { uri?: unknown } | undefined)?.uri;
  if (typeof uri !== 'string') throw new DriftDataError(`${modelName} version ${version} records no training data (lineage.data.uri); pass --reference-source <data source>`);
  const sample = await sampleTrainingData(uri, referenceSize, version);
  return {
    batch: sample.batch,
    data: { source: 'lineage', uri, manifestSha256: sample.manifestSha256, strata: sample.strata },
    tensors: { [REFERENCE_SOURCES]: sample.sources, [REFERENCE_HELD_OUT]: sample.heldOut },
  };
}

export class DriftReference extends Task<ReferenceParams> {
  static override params = referenceParams;
  /** 2: drawn from the version's data by source (was: its validation images). */
  override readonly version = '2';

  override output() {
    return referenceTarget(this.params.store, this.params.modelName, this.params.version);
  }

  async run(ctx: TaskContext): Promise<void> {
    const p = this.params as Required<ReferenceParams>;
    const { store, modelName, version } = p;
    const record = await new ModelRegistry(store, modelName).version(version);
    const { batch, data, tensors } = await referenceImages(p, record.lineage);
    if (batch.count < 2) throw new DriftDataError(`the drift reference of ${modelName} v${version} would hold ${batch.count} image(s) (from ${data.uri ?? data.source}): it needs at least 2; pass --reference-source <data source>`);
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
          ...Object.fromEntries(Object.entries(tensors).map(([name, values]) => [name, { values, shape: [f.count] }])),
        },
        details,
      );
    });
    const strata = data.strata?.map((s) => `${s.name} ${s.drawn} (${s.heldOut} held out)`).join(', ');
    ctx.logger.info({ model: modelName, version, count: f.count, strata: data.strata, output: this.output().uri }, `drift reference for ${modelName} v${version}: ${f.count} images${strata ? `: ${strata}` : ''}`);
  }
}
