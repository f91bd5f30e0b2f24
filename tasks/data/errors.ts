/**
 * Errors of data files and their shapes. Not retryable: the same values or
 * bytes give the same answer. (IDX files: `IdxFormatError` in idx.ts; tensor
 * files against their manifest: `TensorFileError` in tensor-file.ts; labelled
 * batches: `LabelledBatchError` in labelled-batch.ts.)
 */
import { DagwrightError } from '../../src/public/errors';

/** Values do not fit the shape they are written or read with (a tensor, an IDX file, an image): the caller's mistake. */
export class TensorShapeError extends DagwrightError {}

/** A dataset directory lacks a tensor its reader asks for, or holds it in another type: wrong or foreign data. */
export class DatasetError extends DagwrightError {}
