/**
 * Errors of the model server. Each maps to the HTTP status a client gets;
 * the message says what was wrong and what is expected.
 */
import { DagwrightError, UsageError } from '../../src';

/** A request the server cannot answer as asked; `status` is its HTTP status (400, 401, 404, 413, 415, 503). */
export class ServeRequestError extends DagwrightError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The inputs of an inference request are not what the model takes (400). */
export class InferenceInputError extends ServeRequestError {
  constructor(message: string) {
    super(400, message);
  }
}

/** No such model or version on this server (404). */
export class ModelNotServedError extends ServeRequestError {
  constructor(message: string) {
    super(404, message);
  }
}

/** No model is loaded yet (503): the server is starting or waiting for the alias. */
export class ModelNotReadyError extends ServeRequestError {
  override readonly retryable = true;
  constructor(model: string) {
    super(503, `model "${model}" is not loaded yet; retry when GET /v2/health/ready answers 200.`);
  }
}

/** A registry version could not be loaded or warmed: the server refuses it and keeps what it serves. */
export class ModelLoadError extends DagwrightError {
  constructor(
    readonly model: string,
    readonly version: number,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`version ${version} of model "${model}" was refused: ${reason}. Register a working version and move the alias to it.`, options);
  }
}

/** A server, batching or prediction-log option out of range (the CLI checks its flags before): the caller's mistake. */
export class ServeOptionError extends UsageError {}

/** The predictor (worker thread or inline) answered out of protocol, was stopped, or was asked for a model it does not hold: a bug to report. */
export class PredictorError extends DagwrightError {}

/** A loaded version's outputs are not class probabilities of the adapter's shape; the server refuses it (as `ModelLoadError`). */
export class ModelOutputError extends DagwrightError {}

/** A deployed server did not answer ready in time. Retryable: it may be slow to start, or its port was still held. */
export class ServerStartTimeoutError extends DagwrightError {
  override readonly retryable = true;
}
