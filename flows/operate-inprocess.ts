/**
 * The simulated month's parts in this process: routine flows through
 * `runFlow` (steps in process), one `ModelServer` on 127.0.0.1 (port 0).
 */
import type { Logger } from 'pino';
import { type FlowDefinition, runFlow } from '../src';
import type { ImageBatch } from '../tasks/drift/sources/image-batch';
import { serveModel } from '../tasks/serving';
import type { ModelServer } from '../tasks/serving/model-server';
import { monitorFlow } from './monitor';
import { MODEL, type OperateParts, type Routine, routineArgs, SERVER, type SentSlice, sleep } from './operate-parts';
import { sendToLiveServer } from './operate-traffic';
import { registerFlow } from './register';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const FLOWS: Record<Routine['name'], FlowDefinition<any>> = { 'mnist-register': registerFlow, 'drift-monitor': monitorFlow };

export class InProcessParts implements OperateParts {
  private server: ModelServer | undefined;

  constructor(
    private readonly store: string,
    private readonly logger: Logger,
  ) {}

  /** Exit 75 (the run lost its lock: this process stalled past the stale limit, as under heavy load) is run again, as cron's next tick would. */
  async runRoutine(routine: Routine, args: readonly string[]): Promise<void> {
    const argv = [...args, ...routineArgs(this.store, this.logger)];
    for (let attempt = 1; ; attempt++) {
      const code = await runFlow(FLOWS[routine.name], { argv, exit: false });
      if (code === 0) return;
      if (code !== 75 || attempt === 3) throw new Error(`the ${routine.name} flow exited ${code} (arguments ${argv.join(' ')}); its run record is in ${this.store}/_runs`);
      this.logger.warn({ flow: routine.name, attempt }, `the ${routine.name} run exited 75 (its lock was lost or held); running it again`);
    }
  }

  private async started(): Promise<ModelServer> {
    this.server ??= await serveModel({
      store: this.store,
      model: MODEL,
      port: 0,
      pollMs: SERVER.pollMs,
      predictionLog: { chunkRecords: SERVER.chunkRecords, chunkMaxAgeMs: SERVER.chunkMaxAgeMs },
      logger: this.logger.child({ part: 'server' }),
    });
    return this.server;
  }

  /** The server follows the alias within its poll interval. */
  async awaitVersion(version: number): Promise<void> {
    const server = await this.started();
    const deadline = Date.now() + 60_000;
    while (server.version !== version) {
      if (Date.now() > deadline) throw new Error(`the server still serves version ${server.version} 60 s after champion moved to ${version}`);
      await sleep(100);
    }
  }

  async sendSlice(day: number, offset: number, slice: ImageBatch): Promise<SentSlice> {
    return sendToLiveServer(this.store, (await this.started()).url, day, offset, slice);
  }

  async stop(): Promise<void> {
    await this.server?.stop();
  }
}
