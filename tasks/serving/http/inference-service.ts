/**
 * What the HTTP routes need from a model server: the model's name, the
 * version answering now, its adapter, `infer`, and the server's state. The
 * routes depend on this, not on the server class, so the server (which
 * builds the HTTP app) and its routes do not import each other.
 */
import type { Logger } from 'pino';
import type { ModelSignature } from '../../onnx/signature';
import type { DecodedInputs, ModelAdapter } from '../runtime/model-adapter';
import type { ServerMetrics } from '../server-metrics';

/** What a route gets back from `infer`. */
export interface Inference {
  readonly version: number;
  /** `count * classes` probabilities. */
  readonly probabilities: Float32Array;
  readonly labels: Int32Array;
}

export interface InferenceService {
  /** The registry model served. */
  readonly model: string;
  /** The version answering now, if any. */
  readonly version: number | undefined;
  /** The Open Inference Protocol platform of the version answering now (e.g. tensorflowjs, onnxruntime_onnx). */
  readonly platform: string | undefined;
  /** The signature of the version answering now, when it has one (ONNX versions): class labels, the model's own input. */
  readonly signature: ModelSignature | undefined;
  /** The served model's shapes and decoders; throws `ModelNotReadyError` before the first version is loaded. */
  readonly adapter: ModelAdapter;
  /** When set, every route but the open ones needs `Authorization: Bearer <token>`. */
  readonly token: string | undefined;
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
  readonly isStopping: boolean;
  /** Responses now close their connection. */
  readonly closesConnections: boolean;
  /** Predicts for decoded inputs on the current version and logs them; throws `ModelNotReadyError` when none is loaded. */
  infer(inputs: DecodedInputs, requestId: string): Promise<Inference>;
}
