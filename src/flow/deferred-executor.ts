import { request } from 'node:http';
import { DockerUnavailableError } from '../executors/container/errors';
import type { Executor } from '../executor';
import type { AnyTask, TaskContext } from '../task';

/**
 * An executor set up when a task first runs: a run that finds everything
 * complete (the common re-run from cron) never loads the Docker client
 * (dockerode and its ssh2, gRPC and tar modules: about 0.1 s and 15 MB) nor
 * calls the engine. Concurrent first tasks share one set-up; a failed set-up
 * fails each task that needed it, and the next task tries again.
 */
export function deferredExecutor(name: string, setUp: () => Promise<Executor>): Executor {
  let made: Promise<Executor> | undefined;
  const inner = (): Promise<Executor> => {
    made ??= setUp().catch((err: unknown) => {
      made = undefined;
      throw err;
    });
    return made;
  };
  return {
    name,
    async execute(task: AnyTask, ctx: TaskContext): Promise<void> {
      return (await inner()).execute(task, ctx);
    },
    async close(): Promise<void> {
      const executor = await made?.catch(() => undefined);
      await executor?.close();
    },
  };
}

/** The socket path when `host` is a local engine (`unix://...`), else undefined (tcp://, ssh://: ask through dockerode). */
export function localEngineSocket(host: string): string | undefined {
  return host.startsWith('unix://') ? host.slice('unix://'.length) : undefined;
}

/**
 * Asks the engine behind a Unix socket for `/_ping` with plain HTTP, as
 * dockerode's ping does, without loading dockerode. Throws
 * DockerUnavailableError unless it answers 200 within `timeoutMs`.
 */
export function pingLocalEngine(socketPath: string, host: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      if (res.statusCode === 200) resolve();
      else reject(new DockerUnavailableError(host, new Error(`/_ping answered HTTP ${res.statusCode}`)));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(new DockerUnavailableError(host, err)));
    req.end();
  });
}
