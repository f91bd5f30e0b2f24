/**
 * Confidence-based performance estimation (CBPE, after NannyML): the
 * accuracy of a window of served predictions estimated before any label
 * arrives. The model's confidence in the class it predicted is calibrated
 * on the version's reference data (held-out labelled images the version
 * was scored on), by isotonic regression of "was right" on confidence; the
 * estimated accuracy of a window is the mean calibrated confidence. This
 * holds while the relation between confidence and correctness holds (a
 * change in what images arrive, not in what their labels mean), which is
 * the drift the monitor looks for.
 */
import type { DirectoryTarget } from '../../src';
import { float32, readDataset, uint8 } from '../data/dataset-files';
import { DriftDataError } from './errors';
import { REFERENCE_HELD_OUT } from './reference-task';

/** A monotone step function from confidence to the chance of being right. */
export interface CbpeCalibration {
  /** Upper confidence of each step, ascending. */
  readonly thresholds: readonly number[];
  /** Calibrated chance of a correct prediction for confidences up to the matching threshold. */
  readonly values: readonly number[];
  /** Accuracy on the reference data (what an unshifted window should score). */
  readonly referenceAccuracy: number;
  readonly referenceCount: number;
}

/** Confidence of the predicted class and whether it was the label, per row of a [count, classes] probability matrix. */
function confidences(probabilities: Float32Array, classes: number, labels?: Uint8Array): { confidence: Float64Array; correct: Uint8Array } {
  const count = probabilities.length / classes;
  const confidence = new Float64Array(count);
  const correct = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probabilities[i * classes + c] > probabilities[i * classes + best]) best = c;
    confidence[i] = probabilities[i * classes + best];
    if (labels) correct[i] = labels[i] === best ? 1 : 0;
  }
  return { confidence, correct };
}

/** Isotonic regression (pool adjacent violators) of correctness on confidence. */
export function fitCbpe(probabilities: Float32Array, classes: number, labels: Uint8Array): CbpeCalibration {
  const { confidence, correct } = confidences(probabilities, classes, labels);
  const order = Array.from(confidence.keys()).sort((a, b) => confidence[a] - confidence[b]);
  const blocks: { sum: number; n: number; upper: number }[] = [];
  for (const i of order) {
    blocks.push({ sum: correct[i], n: 1, upper: confidence[i] });
    while (blocks.length > 1 && blocks[blocks.length - 2].sum / blocks[blocks.length - 2].n >= blocks[blocks.length - 1].sum / blocks[blocks.length - 1].n) {
      const last = blocks.pop()!;
      const prev = blocks[blocks.length - 1];
      prev.sum += last.sum;
      prev.n += last.n;
      prev.upper = last.upper;
    }
  }
  const right = correct.reduce((a, b) => a + b, 0);
  return { thresholds: blocks.map((b) => b.upper), values: blocks.map((b) => b.sum / b.n), referenceAccuracy: right / Math.max(1, correct.length), referenceCount: correct.length };
}

/** The calibrated chance that a prediction with this confidence is right. */
export function calibrated(calibration: CbpeCalibration, confidence: number): number {
  const { thresholds, values } = calibration;
  let lo = 0;
  let hi = thresholds.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (thresholds[mid] >= confidence) hi = mid;
    else lo = mid + 1;
  }
  return values[lo];
}

/** Estimated accuracy of a window from its served probabilities ([count, classes]). */
export function estimateAccuracy(calibration: CbpeCalibration, probabilities: Float32Array, classes: number): number {
  const { confidence } = confidences(probabilities, classes);
  let sum = 0;
  for (const c of confidence) sum += calibrated(calibration, c);
  return confidence.length === 0 ? Number.NaN : sum / confidence.length;
}

/** An estimated drop of more than `maxDrop` (0.05 = 5 points) below the reference accuracy. */
export function estimatedDrop(calibration: CbpeCalibration, estimated: number, maxDrop: number): { drop: number; alert: boolean } {
  const drop = calibration.referenceAccuracy - estimated;
  return { drop, alert: drop > maxDrop };
}

/**
 * Calibrates on a version's drift reference (its probabilities and true labels, see reference-task.ts): on the
 * images the version was not trained on when the reference says which (a model is surer of images it learned from).
 */
export async function cbpeFromReference(reference: DirectoryTarget): Promise<CbpeCalibration> {
  const head = await readDataset(reference, []);
  const heldOutKnown = REFERENCE_HELD_OUT in head.manifest.tensors;
  const data = await readDataset(reference, ['probabilities', 'labels', ...(heldOutKnown ? [REFERENCE_HELD_OUT] : [])]);
  let probabilities = float32(data, 'probabilities');
  let labels = uint8(data, 'labels');
  if (labels.length === 0) throw new DriftDataError(`${reference.uri} holds no labelled images: CBPE needs a reference with labels (the default reference, drawn from the version's held-out data, has them).`);
  const classes = probabilities.length / labels.length;
  if (heldOutKnown) {
    const rows = heldOutRows(uint8(data, REFERENCE_HELD_OUT));
    if (rows.length > 0) {
      probabilities = Float32Array.from(rows.flatMap((i) => Array.from(probabilities.subarray(i * classes, (i + 1) * classes))));
      labels = Uint8Array.from(rows, (i) => labels[i]);
    }
  }
  return fitCbpe(probabilities, classes, labels);
}

function heldOutRows(heldOut: Uint8Array): number[] {
  const rows: number[] = [];
  heldOut.forEach((h, i) => h === 1 && rows.push(i));
  return rows;
}
