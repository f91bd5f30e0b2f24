/**
 * Where training steps run: in this thread (LocalGradientEngine) or in
 * worker threads (WorkerGradientEngine in gradient-worker-pool.ts). The
 * training loop sees only this interface: it hands over one epoch at a time
 * (order, batch size, learning rate of each step) and gets back what the
 * steps measured. Both engines run the same EpochRunner.
 */
import type * as tfjs from '@tensorflow/tfjs';

import { type EpochPlan, EpochRunner, STAT, STAT_FIELDS, stepsPerEpoch, type TrainingData, type TrainingState } from './epoch-runner';
import { ModelReplica } from './model-replica';
import { clearStop, newControl, StepBarrier } from './step-barrier';
import type { TensorFlow } from '../tf/tf-backend';

export type { TrainingData };

/** Milliseconds of one step, by phase (of the thread whose computation was slowest). */
export interface StepTimings {
  /** Copying the batch's samples out of the data set (JavaScript). */
  gatherMs: number;
  /** Uploading the parameters into the replica's variables. */
  uploadMs: number;
  /** Forward and backward pass, including reading the gradient back. */
  computeMs: number;
  /** Adam on this thread's share of the parameters. */
  optimizerMs: number;
  /** Waiting at the step's two barriers (for slower threads). */
  syncMs: number;
}

/** What one epoch's steps measured. */
export interface EpochSummary {
  /** Steps run (fewer than planned if stopped). */
  steps: number;
  /** Samples those steps covered. */
  samples: number;
  /** Sum over samples of the loss (before each step's update). */
  lossSum: number;
  /** Samples classified correctly (before each step's update). */
  correct: number;
  /** Mean over steps. */
  timings: StepTimings;
}

/** An epoch as the training loop plans it (the engine adds where threads write their measurements). */
export type EpochRequest = Omit<EpochPlan, 'stats'>;

/**
 * Told how far an epoch has got while it runs, at most every `everyMs`: the
 * summary of the steps finished so far (their loss and accuracy are final;
 * the last step's timings may not be written yet).
 */
export interface EpochProgress {
  readonly everyMs: number;
  report(sofar: EpochSummary): void;
}

export interface GradientEngine {
  /** Number of worker threads (0: this thread). */
  readonly workers: number;
  /** Current parameters (in the order of the model's trainable weights). */
  readonly params: Float32Array;
  /** Runs the epoch's steps; stops after the current step when `signal` aborts, then throws its reason. */
  runEpoch(request: EpochRequest, signal?: AbortSignal, progress?: EpochProgress): Promise<EpochSummary>;
  /** Mean gradient over the whole batch of the last step (for checks; computed on demand). */
  lastGradient(): Float32Array;
  /** Predicted class of each validation sample with the current parameters. */
  predictValidation(): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Adds up the threads' measurements of `steps` steps. */
export function summarizeEpoch(plan: EpochPlan, steps: number, workers: number): EpochSummary {
  const { stats } = plan;
  const timings: StepTimings = { gatherMs: 0, uploadMs: 0, computeMs: 0, optimizerMs: 0, syncMs: 0 };
  let lossSum = 0;
  let correct = 0;
  for (let s = 0; s < steps; s++) {
    let slowest = s * workers * STAT_FIELDS;
    for (let k = 0; k < workers; k++) {
      const at = (s * workers + k) * STAT_FIELDS;
      lossSum += stats[at + STAT.lossSum];
      correct += stats[at + STAT.correct];
      if (stats[at + STAT.computeMs] > stats[slowest + STAT.computeMs]) slowest = at;
    }
    for (const key of Object.keys(timings) as Array<keyof StepTimings>) timings[key] += stats[slowest + STAT[key]];
  }
  for (const key of Object.keys(timings) as Array<keyof StepTimings>) timings[key] /= Math.max(1, steps);
  const samples = Math.min(plan.order.length, steps * plan.batchSize);
  return { steps, samples, lossSum, correct, timings };
}

/** The mean gradient of the last step: the slots weighted by their shard's share of `batchCount`. */
export function combineSlots(slots: Float32Array[], shardCounts: number[], batchCount: number): Float32Array {
  const gradient = new Float32Array(slots[0].length);
  for (const [k, slot] of slots.entries()) {
    const weight = shardCounts[k] / batchCount;
    for (let i = 0; i < gradient.length; i++) gradient[i] += weight * slot[i];
  }
  return gradient;
}

/** Runs steps in the calling thread, on the given model (whose weights it sets at each step). */
export class LocalGradientEngine implements GradientEngine {
  readonly workers = 0;
  readonly params: Float32Array;
  private readonly state: TrainingState;
  private readonly runner: EpochRunner;

  constructor(tf: TensorFlow, model: tfjs.LayersModel, data: TrainingData) {
    const replica = new ModelReplica(tf, model);
    const size = replica.size;
    this.params = new Float32Array(size);
    replica.readParams(this.params);
    this.state = {
      params: this.params,
      m: new Float32Array(size),
      v: new Float32Array(size),
      slots: [new Float32Array(size)],
      control: newControl(false),
    };
    this.runner = new EpochRunner(replica, data, this.state, new StepBarrier(this.state.control, 1), 0, 1);
  }

  async runEpoch(request: EpochRequest, signal?: AbortSignal, progress?: EpochProgress): Promise<EpochSummary> {
    const steps = stepsPerEpoch(request.order.length, request.batchSize);
    const plan: EpochPlan = { ...request, stats: new Float64Array(steps * STAT_FIELDS) };
    clearStop(this.state.control);
    let reported = performance.now();
    for (let s = 0; s < steps; s++) {
      signal?.throwIfAborted();
      this.runner.runStep(plan, s);
      if (progress && performance.now() - reported >= progress.everyMs) {
        reported = performance.now();
        progress.report(summarizeEpoch(plan, s + 1, 1));
      }
      // Let timers and signal handlers run between steps (an abort can come from them).
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return summarizeEpoch(plan, steps, 1);
  }

  lastGradient(): Float32Array {
    return Float32Array.from(this.state.slots[0]);
  }

  async predictValidation(): Promise<Uint8Array> {
    return this.runner.predictValidation(0, this.runner.validationCount);
  }

  async close(): Promise<void> {
    // The model belongs to the caller.
  }
}
