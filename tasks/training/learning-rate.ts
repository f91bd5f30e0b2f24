/** Learning-rate schedules, as functions of the (0-based) optimizer step. */

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
