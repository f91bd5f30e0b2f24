import { connect } from 'node:net';
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
 * Asks the engine behind a Unix socket for `/_ping`, as dockerode's ping
 * does, with one HTTP/1.0 request written on the socket: no dockerode, not
 * even node:http. Throws DockerUnavailableError unless the status line says
 * 200 within `timeoutMs`.
 */
export function pingLocalEngine(socketPath: string, host: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let head = '';
    const fail = (err: Error) => {
      socket.destroy();
      reject(new DockerUnavailableError(host, err));
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`no answer within ${timeoutMs} ms`)));
    socket.on('error', fail);
    socket.on('connect', () => socket.write('GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n'));
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n');
      if (end < 0) return;
      const status = head.slice(0, end);
      socket.destroy();
      if (/^HTTP\/1\.[01] 200\b/.test(status)) resolve();
      else reject(new DockerUnavailableError(host, new Error(`/_ping answered "${status}"`)));
    });
    socket.on('end', () => fail(new Error('the engine closed the connection without an answer')));
  });
}
