/**
 * Adam (Kingma & Ba) over one flat Float32Array of parameters.
 *
 * The optimizer runs in plain JavaScript rather than as a tfjs optimizer
 * because gradients arrive as arrays (one per worker thread) and parameters
 * are shared with those threads as arrays. Its state may live in shared
 * memory, and `update` works on a range of the parameters, so each worker
 * thread updates its own share of them (see epoch-runner.ts). Same update
 * rule and defaults as tf.train.adam.
 */
import { TrainingInputError } from './errors';

export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/** First and second moment estimates, one value per parameter (may be shared memory). */
export interface AdamState {
  m: Float32Array;
  v: Float32Array;
}

export class FlatAdam {
  readonly state: AdamState;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;

  constructor(state: AdamState | number, options: AdamOptions = {}) {
    this.state = typeof state === 'number' ? { m: new Float32Array(state), v: new Float32Array(state) } : state;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-7;
  }

  /**
   * Step `step` (1-based, for the bias correction) on params[start, end):
   * the gradient is sum_j weights[j] * gradients[j], e.g. the per-worker
   * mean gradients weighted by their share of the batch.
   */
  update(
    params: Float32Array,
    gradients: readonly Float32Array[],
    weights: readonly number[],
    learningRate: number,
    step: number,
    start = 0,
    end = params.length,
  ): void {
    const { m, v } = this.state;
    const { beta1, beta2, epsilon } = this;
    if (params.length !== m.length || gradients.some((g) => g.length !== m.length) || gradients.length !== weights.length) {
      throw new TrainingInputError(`Expected params and every gradient of length ${m.length}, and one weight per gradient`);
    }
    const rate = (learningRate * Math.sqrt(1 - beta2 ** step)) / (1 - beta1 ** step);
    const g0 = gradients[0];
    const w0 = weights[0];
    const g1 = gradients.length > 1 ? gradients[1] : g0;
    const w1 = gradients.length > 1 ? weights[1] : 0;
    for (let i = start; i < end; i++) {
      let g = w0 * g0[i] + w1 * g1[i];
      for (let j = 2; j < gradients.length; j++) g += weights[j] * gradients[j][i];
      const mi = beta1 * m[i] + (1 - beta1) * g;
      const vi = beta2 * v[i] + (1 - beta2) * g * g;
      m[i] = mi;
      v[i] = vi;
      params[i] -= (rate * mi) / (Math.sqrt(vi) + epsilon);
    }
  }
}
