/**
 * Errors of the training loop. Not retryable unless they say so: options,
 * data and models that cannot train fail the same way every time. (A
 * gradient worker that died is `GradientWorkerError`: retryable.)
 */
import { DagwrightError } from '../../src/public/errors';

/** Training options or data that cannot work: a count that is not positive, data that does not fit the model, an unknown backend. */
export class TrainingInputError extends DagwrightError {}

/** A model training cannot take: not one input [null, ...sizes] and one output [null, classes], or a topology it cannot save. */
export class ModelShapeError extends DagwrightError {}

/** Training reached a state it should never reach (a missing gradient, a result asked before any step): a bug to report. */
export class TrainingInternalError extends DagwrightError {}
