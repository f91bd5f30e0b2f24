/**
 * The data-parallel training step as one thread of `workers` runs it. Each
 * step, every thread takes its contiguous shard of the batch, computes the
 * mean gradient of the shard into its own slot, and meets the others at a
 * barrier; then each thread applies Adam to its own share of the
 * parameters, reading every slot weighted by its shard's share of the batch
 * (so the update uses the mean gradient of the whole batch), and they meet
 * again before the next step reads the parameters. No thread waits for the
 * main thread inside an epoch, and the optimizer's work is split too.
 *
 * Every parameter is updated by exactly one thread with a fixed formula, so
 * a run is reproducible whatever the timing of the threads.
 */
import { type Augmentation, shiftOf, translateSample } from './augment';
import { FlatAdam } from './flat-adam';
import type { ModelReplica } from './model-replica';
import { type StepBarrier } from './step-barrier';

export interface TrainingData {
  /** Training samples, count * sample size numbers. */
  trainImages: Float32Array;
  trainLabels: Uint8Array;
  /** Validation samples (may be empty). */
  valImages: Float32Array;
  valLabels: Uint8Array;
}

/** Parameters, optimizer state and gradient slots, shared by the threads of a run. */
export interface TrainingState {
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
  /** One mean-gradient slot per thread. */
  slots: Float32Array[];
  /** Barrier and stop words (step-barrier.ts). */
  control: Int32Array;
}

/** One epoch's work, the same for every thread. */
export interface EpochPlan {
  /** Sample indices in the order of the epoch. */
  order: Int32Array;
  batchSize: number;
  /** Learning rate of each step of the epoch. */
  learningRates: Float64Array;
  /** Optimizer steps taken before this epoch (for Adam's bias correction). */
  firstStep: number;
  /** Filled by the threads: per step and thread, STAT_FIELDS numbers (see STAT). */
  stats: Float64Array;
  /** Random translations of image samples ([height, width, channels]); none when absent. */
  augmentation?: Augmentation;
  /** Samples seen in training before this epoch (the positions augmentation draws from). */
  firstPosition?: number;
}

/** Offsets of a thread's numbers for one step in `EpochPlan.stats`. */
export const STAT = { lossSum: 0, correct: 1, gatherMs: 2, uploadMs: 3, computeMs: 4, optimizerMs: 5, syncMs: 6 } as const;
export const STAT_FIELDS = 7;

/** Split 0..n-1 into `parts` contiguous ranges whose sizes differ by at most one. */
export function splitRange(n: number, parts: number): Array<{ start: number; count: number }> {
  const ranges = [];
  for (let k = 0, start = 0; k < parts; k++) {
    const count = Math.floor(n / parts) + (k < n % parts ? 1 : 0);
    ranges.push({ start, count });
    start += count;
  }
  return ranges;
}

/** Number of steps an epoch over `count` samples takes. */
export function stepsPerEpoch(count: number, batchSize: number): number {
  return Math.ceil(count / batchSize);
}

/** Copies the samples and labels of `indices` into the batch buffers. */
export function gatherBatch(
  samples: Float32Array,
  labels: Uint8Array,
  sampleSize: number,
  indices: Int32Array,
  batchSamples: Float32Array,
  batchLabels: Uint8Array,
): void {
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    batchSamples.set(samples.subarray(i * sampleSize, (i + 1) * sampleSize), k * sampleSize);
    batchLabels[k] = labels[i];
  }
}

export class EpochRunner {
  private readonly adam: FlatAdam;
  private readonly paramRange: { start: number; count: number };
  private batchSamples = new Float32Array(0);
  private batchLabels = new Uint8Array(0);
  private scratch = new Float32Array(0);

  constructor(
    private readonly replica: ModelReplica,
    private readonly data: TrainingData,
    private readonly state: TrainingState,
    private readonly barrier: StepBarrier,
    /** This thread's index, 0..workers-1. */
    private readonly index: number,
    private readonly workers: number,
  ) {
    this.adam = new FlatAdam({ m: state.m, v: state.v });
    this.paramRange = splitRange(state.params.length, workers)[index];
  }

  /** Runs step `s` of the epoch; false when the threads agreed to stop after it. */
  runStep(plan: EpochPlan, s: number): boolean {
    const { replica, state, index, workers } = this;
    const batchStart = s * plan.batchSize;
    const batchCount = Math.min(plan.batchSize, plan.order.length - batchStart);
    const shards = splitRange(batchCount, workers);
    const shard = shards[index];
    const stats = plan.stats.subarray((s * workers + index) * STAT_FIELDS, (s * workers + index + 1) * STAT_FIELDS);
    const slot = state.slots[index];

    const t0 = performance.now();
    const indices = plan.order.subarray(batchStart + shard.start, batchStart + shard.start + shard.count);
    this.gather(indices);
    if (plan.augmentation !== undefined && plan.augmentation.maxShift > 0) {
      this.augment(plan.augmentation, (plan.firstPosition ?? 0) + batchStart + shard.start, shard.count);
    }
    const t1 = performance.now();
    replica.writeParams(state.params);
    const t2 = performance.now();
    if (shard.count > 0) {
      const { loss, correct } = replica.computeGradients(this.batchSamples, this.batchLabels, shard.count, slot);
      stats[STAT.lossSum] = loss * shard.count;
      stats[STAT.correct] = correct;
    } else {
      slot.fill(0);
      stats[STAT.lossSum] = 0;
      stats[STAT.correct] = 0;
    }
    const t3 = performance.now();

    this.barrier.wait();
    const t4 = performance.now();
    if (index === 0) this.barrier.decideStop();
    const { start, count } = this.paramRange;
    const weights = shards.map((sh) => sh.count / batchCount);
    this.adam.update(state.params, state.slots, weights, plan.learningRates[s], plan.firstStep + s + 1, start, start + count);
    const t5 = performance.now();
    this.barrier.wait();
    const t6 = performance.now();

    stats[STAT.gatherMs] = t1 - t0;
    stats[STAT.uploadMs] = t2 - t1;
    stats[STAT.computeMs] = t3 - t2;
    stats[STAT.optimizerMs] = t5 - t4;
    stats[STAT.syncMs] = t4 - t3 + (t6 - t5);
    return !this.barrier.stopDecided();
  }

  private gather(indices: Int32Array): void {
    const { sampleSize } = this.replica;
    if (this.batchLabels.length < indices.length) {
      this.batchSamples = new Float32Array(indices.length * sampleSize);
      this.batchLabels = new Uint8Array(indices.length);
    }
    gatherBatch(this.data.trainImages, this.data.trainLabels, sampleSize, indices, this.batchSamples, this.batchLabels);
  }

  private augment(augmentation: Augmentation, firstPosition: number, count: number): void {
    const { sampleSize, sampleShape } = this.replica;
    if (this.scratch.length !== sampleSize) this.scratch = new Float32Array(sampleSize);
    for (let k = 0; k < count; k++) {
      const sample = this.batchSamples.subarray(k * sampleSize, (k + 1) * sampleSize);
      const { dy, dx } = shiftOf(augmentation, firstPosition + k);
      if (dy === 0 && dx === 0) continue;
      this.scratch.set(sample);
      translateSample(this.scratch, sample, sampleShape, dy, dx);
    }
  }

  get validationCount(): number {
    return this.data.valLabels.length;
  }

  /** Predicted class of validation samples start..start+count-1 with the current parameters. */
  predictValidation(start: number, count: number): Uint8Array {
    const { replica } = this;
    replica.writeParams(this.state.params);
    return replica.predict(this.data.valImages.subarray(start * replica.sampleSize, (start + count) * replica.sampleSize), count);
  }
}
