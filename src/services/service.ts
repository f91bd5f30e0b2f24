import type { Logger } from 'pino';

/** What a service says about itself when asked. */
export interface ServiceHealth {
  /** Ready to do its work (a model server: a model is loaded and warmed). */
  readonly ready: boolean;
  /** Anything worth showing: the version served, the address, counts. */
  readonly detail?: Readonly<Record<string, unknown>>;
}

/**
 * A long-running process the library starts and stops: a model server, the
 * web UI. A flow is a DAG of batch tasks; a service is what runs beside it.
 *
 * - `start()` resolves once the service accepts work (a server is listening);
 *   it rejects, having released everything, when it cannot start.
 * - `health()` never throws: a failing check is `{ ready: false }`.
 * - `stop()` is graceful and idempotent: stop accepting, finish work in
 *   flight, flush what is buffered, release every resource.
 */
export interface Service {
  /** For logs: "model-server", "ui". */
  readonly name: string;
  start(): Promise<void>;
  health(): Promise<ServiceHealth>;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Runs a service in the foreground until SIGINT or SIGTERM: the first signal
 * stops it gracefully and resolves with 0; a second exits at once (130/143).
 * A failed start resolves with 1 after logging why.
 */
export async function runInForeground(service: Service, logger: Logger): Promise<number> {
  try {
    await service.start();
  } catch (err) {
    logger.error({ err }, `${service.name} could not start: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  logger.info({ service: service.name }, `${service.name} started (SIGINT or SIGTERM stops it)`);
  const codes = { SIGINT: 130, SIGTERM: 143 } as const;
  let stopping = false;
  return new Promise<number>((resolve) => {
    const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(codes[signal]);
      }
      stopping = true;
      logger.info({ signal }, `stopping ${service.name}: finishing work in flight`);
      service.stop().then(
        () => finish(0),
        (err: unknown) => {
          logger.error({ err }, `${service.name} did not stop cleanly`);
          finish(1);
        },
      );
    };
    const finish = (code: number) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      logger.info({ service: service.name }, `${service.name} stopped`);
      resolve(code);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
