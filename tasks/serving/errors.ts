/**
 * Errors of the model server. Each maps to the HTTP status a client gets;
 * the message says what was wrong and what is expected.
 */
import { DagwrightError } from '../../src';

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
