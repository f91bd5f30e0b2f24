/**
 * The model server as a `Service`: serves one registry model at the version
 * an alias names (or a pinned version) over HTTP, swaps to a new version
 * when the alias moves, logs every prediction, and stops gracefully.
 *
 * Swapping: the new version is loaded and warmed while the old one keeps
 * answering; then one assignment makes it current. A request takes the
 * current version when it starts and holds it until it has its answer, so
 * the old version is disposed only after its last request. A version that
 * fails to load or warm is refused (logged and counted); the old one stays.
 */
import { ServingHistoryWriter } from './serving-history';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createLogger, type Service, type ServiceHealth } from '../../src/public/runtime';
import { DEFAULT_MODEL_NAME, ModelRegistry } from '../registry/registry';
import { aliasesFile } from '../store-layout';
import { AdaptiveBatcher, type BatchingOptions, checkBatching, DEFAULT_BATCHING } from './runtime/adaptive-batcher';
import { type AliasWatcher, watchAliasFile } from './runtime/alias-watcher';
import { ModelLoadError, ModelNotReadyError } from './errors';
import { buildHttpApp } from './http/http-app';
import type { Inference, InferenceService } from './http/inference-service';
import { type LoadedModel, loadVersion } from './runtime/loaded-model';
import type { DecodedInputs, ModelAdapter } from './runtime/model-adapter';
import { PredictionLogWriter } from './prediction-log/prediction-log';
import { ConnectionTracker } from './drain';
import { errorBody } from './http/error-bodies';
import { handOverPort } from './port-handover';
import { ReadyFile } from './ready-file';
import type { Predictor } from './runtime/predict-thread';
import { modelFormatOf, V2_PLATFORM } from './runtime/model-format';
import { DEFAULT_PREDICT_IN, predictorFor } from './runtime/model-runtimes';
import { ServerMetrics } from './server-metrics';
import type { ModelSignature } from '../onnx/signature';
import { DEFAULT_ALIAS, DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_SERVE_HOST, DEFAULT_SERVE_PORT, type ModelServerOptions } from './server-options';

export { DEFAULT_ALIAS, DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_SERVE_HOST, DEFAULT_SERVE_PORT, TOKEN_ENV, type ModelServerOptions } from './server-options';

export type { Inference } from './http/inference-service';

interface Slot {
  readonly model: LoadedModel;
  readonly batcher: AdaptiveBatcher;
}

export class ModelServer implements Service, InferenceService {
  readonly name = 'model-server';
  readonly model: string;
  readonly metrics: ServerMetrics;
  /** One record a minute and the deployment and swap events, in the store (serving-history.ts). */
  private readonly history: ServingHistoryWriter | undefined;
  readonly logger: Logger;
  private readonly registry: ModelRegistry;
  private readonly log: PredictionLogWriter | undefined;
  private readonly readyFile: ReadyFile | undefined;
  private thread: Predictor | undefined;
  private app: FastifyInstance | undefined;
  private watcher: AliasWatcher | undefined;
  private slot: Slot | undefined;
  /** The given adapter, else the one the first loaded version's shapes describe; later versions must fit it. */
  private fitted: ModelAdapter | undefined;
  private readonly refused = new Set<number>();
  private reloading: Promise<void> | undefined;
  private reloadAgain = false;
  private stopping: Promise<void> | undefined;
  private boundPort: number | undefined;
  private closingConnections = false;
  private connections: ConnectionTracker | undefined;

  constructor(readonly options: ModelServerOptions) {
    this.model = options.model ?? DEFAULT_MODEL_NAME;
    this.fitted = options.adapter;
    this.logger = (options.logger ?? createLogger()).child({ service: this.name, model: this.model });
    this.registry = new ModelRegistry(options.store, this.model);
    this.log = options.predictionLog === false ? undefined : new PredictionLogWriter(options.store, this.model, { logger: this.logger, ...options.predictionLog });
    this.readyFile = options.readyFile === undefined ? undefined : new ReadyFile(options.readyFile);
    this.history = options.servingHistory === false ? undefined : new ServingHistoryWriter(options.store, this.model, () => this.metrics.registry, () => this.version, options.servingHistory);
    this.metrics = new ServerMetrics(options.store, this.model, () => this.log?.stats ?? { written: 0, chunks: 0, sampledOut: 0, dropped: 0, buffered: 0 }, this.logger);
    checkBatching(this.batching); // before anything starts
  }

  get batching(): BatchingOptions {
    return this.options.batching ?? DEFAULT_BATCHING;
  }

  /** The served model's shapes: the `adapter` option, else an image classifier shaped like the first version loaded. */
  get adapter(): ModelAdapter {
    if (!this.fitted) throw new ModelNotReadyError(this.model);
    return this.fitted;
  }

  get alias(): string {
    return this.options.alias ?? DEFAULT_ALIAS;
  }

  /** The version answering now, if any. */
  get version(): number | undefined {
    return this.slot?.model.version;
  }

  /** The Open Inference Protocol platform of the version answering now (by its files: ONNX Runtime or TensorFlow.js). */
  get platform(): string | undefined {
    return this.slot && V2_PLATFORM[modelFormatOf(this.slot.model.record)];
  }

  /** The signature of the version answering now, when it has one (ONNX versions): class labels, the model's own input. */
  get signature(): ModelSignature | undefined {
    return this.slot?.model.signature;
  }

  /** The port listened on (the chosen one when `port` was 0). */
  get port(): number {
    return this.boundPort ?? this.options.port ?? DEFAULT_SERVE_PORT;
  }

  get url(): string {
    const host = this.options.host ?? DEFAULT_SERVE_HOST;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }

  get token(): string | undefined {
    return this.options.token;
  }

  async start(): Promise<void> {
    this.thread = predictorFor(this.options.predictIn ?? DEFAULT_PREDICT_IN, { backend: this.options.backend, onnxThreads: this.options.onnxThreads });
    this.app = buildHttpApp(this, { maxBodyBytes: this.options.maxBodyBytes ?? 16 * 1024 * 1024, host: this.options.host ?? DEFAULT_SERVE_HOST });
    this.connections = new ConnectionTracker(this.app.server);
    try {
      await this.listen();
      this.boundPort = (this.app.server.address() as { port: number }).port;
      if (!this.slot) await this.loadFirst();
      if (this.options.version === undefined) {
        const aliases = aliasesFile(this.options.store, this.model);
        this.watcher = watchAliasFile(aliases, this.options.pollMs ?? 1000, () => void this.reload(), this.logger);
      }
    } catch (err) {
      await this.release();
      throw err;
    }
    this.history?.event('start', this.url, `serving version ${this.version} (${this.options.version === undefined ? `alias ${this.alias}` : 'pinned'})`);
    this.history?.start();
    this.logger.info({ url: this.url, version: this.version, alias: this.options.version === undefined ? this.alias : undefined }, `serving "${this.model}" at ${this.url}`);
  }

  /**
   * Listens; with `portWaitMs`, a port another server holds is waited for
   * with the model already loaded and warmed, so a replacement takes over
   * within milliseconds of the old server closing its listener.
   */
  private async listen(): Promise<void> {
    const address = { host: this.options.host ?? DEFAULT_SERVE_HOST, port: this.options.port ?? DEFAULT_SERVE_PORT };
    const deadline = Date.now() + (this.options.portWaitMs ?? 0);
    for (let waiting = false; ; waiting = true) {
      try {
        return void (await this.app!.listen(address));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() >= deadline) throw err;
      }
      if (!waiting) {
        if (!this.slot) await this.loadFirst();
        this.logger.info({ port: address.port, version: this.version }, `version ${this.version} warmed; waiting for port ${address.port} (held by another server)`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  private async loadFirst(): Promise<void> {
    try {
      const target = this.options.version ?? (await this.registry.resolve(this.alias)).version;
      await this.swapTo(target);
    } catch (err) {
      if (!this.options.waitForModel || err instanceof ModelLoadError) throw err;
      this.logger.warn({ err }, `no version to serve yet (${err instanceof Error ? err.message : String(err)}); answering 503 until "${this.alias}" names one`);
    }
  }

  /** Checks the alias now and swaps if it moved (watchers call this; one reload runs at a time). */
  reload(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.reloadAgain = false;
        await this.reloadOnce();
      } while (this.reloadAgain && !this.stopping);
    })().finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  private async reloadOnce(): Promise<void> {
    if (this.stopping) return;
    let target: number;
    try {
      target = this.options.version ?? (await this.registry.resolve(this.alias)).version;
    } catch (err) {
      this.logger.warn({ err }, `could not resolve "${this.alias}": ${err instanceof Error ? err.message : String(err)}; still serving version ${this.version ?? 'none'}`);
      return;
    }
    if (target === this.version || this.refused.has(target)) return;
    try {
      await this.swapTo(target);
      this.metrics.reloads.inc();
    } catch (err) {
      this.refused.add(target);
      this.metrics.refusedReloads.inc();
      this.logger.error({ err, refused: target, serving: this.version }, `${err instanceof Error ? err.message : String(err)} Still serving version ${this.version ?? 'none'}.`);
    }
  }

  private async swapTo(version: number): Promise<void> {
    const batching = this.batching;
    const warmSizes = [...new Set([1, batching.maxBatchSize ?? 1])];
    const loaded = await loadVersion(this.thread!, this.registry, version, this.fitted, warmSizes);
    if (this.stopping) return loaded.retire();
    this.fitted ??= loaded.adapter;
    const batcher = new AdaptiveBatcher((f, n) => loaded.predict(f, n), this.adapter.itemSize, this.adapter.classes, batching, (n) => this.metrics.batchSize.observe(n));
    const old = this.slot;
    this.slot = { model: loaded, batcher };
    this.metrics.serving(this.model, version, this.options.version === undefined ? this.alias : '');
    if (old) this.history?.event('swap', this.url, `alias ${this.alias} moved from version ${old.model.version} to ${version}`);
    this.readyFile?.mark(version);
    this.logger.info({ version, previous: old?.model.version }, old ? `swapped to version ${version} (was ${old.model.version})` : `loaded version ${version}`);
    if (old) {
      old.batcher.drain();
      old.model.retire();
    }
  }

  /** Predicts for decoded inputs on the current version (or `version`, which must be the current one), and logs them. */
  async infer(inputs: DecodedInputs, requestId: string): Promise<Inference> {
    const slot = this.slot;
    if (!slot) throw new ModelNotReadyError(this.model);
    slot.model.acquire();
    let probabilities: Float32Array;
    try {
      probabilities = await slot.batcher.run(inputs.features, inputs.count);
    } finally {
      slot.model.release();
    }
    const labels = this.labelsOf(probabilities, inputs.count);
    this.record(inputs, requestId, slot.model.version, probabilities, labels);
    return { version: slot.model.version, probabilities, labels };
  }

  private labelsOf(probabilities: Float32Array, count: number): Int32Array {
    const classes = this.adapter.classes;
    const labels = new Int32Array(count);
    const perClass = new Uint32Array(classes);
    for (let i = 0; i < count; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (probabilities[i * classes + c] > probabilities[i * classes + best]) best = c;
      labels[i] = best;
      perClass[best]++;
    }
    // One counter update per class seen, not per image (each hashes its labels).
    perClass.forEach((n, label) => n > 0 && this.metrics.predictedClass.inc({ label: String(label) }, n));
    return labels;
  }

  private record(inputs: DecodedInputs, requestId: string, version: number, probabilities: Float32Array, labels: Int32Array): void {
    const { count, pixels } = inputs;
    this.log?.appendBatch({ requestId, version, shape: this.adapter.logShape, count, pixels, probabilities, labels });
  }

  async health(): Promise<ServiceHealth> {
    const ready = this.slot !== undefined && this.app !== undefined && !this.stopping;
    return { ready, detail: { url: this.url, model: this.model, version: this.version ?? null, alias: this.options.version === undefined ? this.alias : null } };
  }

  /** Stops accepting, finishes running requests, flushes the prediction log, releases the model. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.release();
    return this.stopping;
  }

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  /** Responses now close their connection (stopping, and any port handover is done). */
  get closesConnections(): boolean {
    return this.closingConnections;
  }

  private async release(): Promise<void> {
    this.readyFile?.clear();
    this.watcher?.stop();
    try {
      if (this.app?.server.listening && this.options.handoverMs) {
        const handedOver = await handOverPort(this.app.server, this.options.host ?? DEFAULT_SERVE_HOST, this.port, this.options.handoverMs);
        this.logger.info({ handedOver }, handedOver ? 'another server took the port; closing connections' : `no server took the port within ${this.options.handoverMs} ms; closing`);
      }
      // Every answer from now on closes its connection; requests already received are answered before the app closes.
      this.closingConnections = true;
      this.slot?.batcher.drain(); // what waits for a batch to fill runs now
      await this.drainConnections();
      await this.app?.close();
    } finally {
      this.slot?.batcher.drain();
      await this.reloading?.catch(() => undefined);
      await this.log?.close();
      if (this.boundPort !== undefined) await this.history?.stop(this.url);
      this.slot?.model.retire();
      await this.thread?.close();
    }
  }

  /** Stops listening and waits (at most the drain timeout) until every request received is answered and its connection closed. */
  private async drainConnections(): Promise<void> {
    if (!this.connections || this.connections.size === 0) return;
    const timeoutMs = this.options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    const { cutRequests } = await this.connections.drain({ timeoutMs, errorBody: (url, message) => errorBody(url, 503, message) });
    if (cutRequests > 0) this.logger.warn({ cutRequests, timeoutMs }, `${cutRequests} request(s) still running after the drain timeout of ${timeoutMs} ms were answered 503`);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
