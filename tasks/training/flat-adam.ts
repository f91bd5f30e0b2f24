/**
 * Adam (Kingma & Ba) over one flat Float32Array of parameters, and the
 * learning-rate schedule used with it.
 *
 * The optimizer runs in plain JavaScript rather than as a tfjs optimizer
 * because gradients arrive as arrays (averaged over worker threads) and
 * parameters are shared with those threads as arrays; for the ~200k
 * parameters of the default model a step takes well under a millisecond.
 * Same update rule and defaults as tf.train.adam.
 */

export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

export class FlatAdam {
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private steps = 0;

  constructor(size: number, options: AdamOptions = {}) {
    this.m = new Float32Array(size);
    this.v = new Float32Array(size);
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-7;
  }

  /** Updates `params` in place with `gradient` (same length). */
  step(params: Float32Array, gradient: Float32Array, learningRate: number): void {
    const { m, v, beta1, beta2, epsilon } = this;
    if (params.length !== m.length || gradient.length !== m.length) {
      throw new Error(`Expected params and gradient of length ${m.length}, got ${params.length} and ${gradient.length}`);
    }
    this.steps++;
    const rate = (learningRate * Math.sqrt(1 - beta2 ** this.steps)) / (1 - beta1 ** this.steps);
    for (let i = 0; i < params.length; i++) {
      const g = gradient[i];
      const mi = beta1 * m[i] + (1 - beta1) * g;
      const vi = beta2 * v[i] + (1 - beta2) * g * g;
      m[i] = mi;
      v[i] = vi;
      params[i] -= (rate * mi) / (Math.sqrt(vi) + epsilon);
    }
  }
}

/**
 * Linear warm-up over `warmupSteps`, then cosine decay from `peak` to
 * `peak * finalFraction` at `totalSteps`.
 */
export function warmupCosineLearningRate(
  step: number,
  totalSteps: number,
  peak: number,
  warmupSteps: number,
  finalFraction: number,
): number {
  if (step < warmupSteps) return (peak * (step + 1)) / warmupSteps;
  const progress = Math.min(1, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
  const floor = peak * finalFraction;
  return floor + (peak - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
