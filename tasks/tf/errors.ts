/** Errors of the TensorFlow.js set-up and its wasm training kernels. Not retryable. */
import { DagwrightError } from '../../src/public/errors';

/** A wasm training kernel got inputs it cannot take (missing, of mismatched shapes) or found no kernel to wrap: a bug to report. */
export class KernelError extends DagwrightError {}
