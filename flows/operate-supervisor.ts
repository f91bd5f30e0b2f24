/**
 * The simulated month's parts as processes, started as cron and a
 * supervisor start them (README, Running from cron): a routine flow is
 * `node -r ./src/bootstrap/register flows/<x>.ts ...`, run again until it
 * exits 0 (cron's next tick); the model server is `dagwright serve` on one
 * port, started again as soon as it dies (a supervisor's restart). Either
 * can be SIGKILLed at any moment; nothing here tells the killed process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { MODEL, SERVER, sleep } from './operate-parts';
import type { ServerEndpoint } from './operate-traffic';

const repoRoot = resolve(__dirname, '..');

/** Children still running: SIGKILLed if this process exits first (an error, or SIGINT/SIGTERM through process.exit), so none outlives it. */
const running = new Set<ChildProcess>();
const killRunning = () => running.forEach((child) => child.kill('SIGKILL'));

function tracked(child: ChildProcess): ChildProcess {
  if (running.size === 0) process.once('exit', killRunning);
  running.add(child);
  child.once('exit', () => {
    running.delete(child);
    if (running.size === 0) process.removeListener('exit', killRunning);
  });
  return child;
}

/** The last few kilobytes a child wrote to stderr, for the error that names it. */
function stderrTail(child: ChildProcess): () => string {
  let tail = '';
  child.stderr?.on('data', (d: Buffer) => (tail = (tail + d.toString()).slice(-4000)));
  return () => tail.trim();
}

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (exited(child)) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
}

/** SIGKILLs `child` if it still runs; true when this kill ended it. */
export async function killNow(child: ChildProcess): Promise<boolean> {
  if (exited(child)) return false;
  child.kill('SIGKILL');
  return (await exitOf(child)).signal === 'SIGKILL';
}

/** One run of a flow script as cron starts it; resolves with how it ended. */
export function startFlowProcess(script: string, args: readonly string[]): { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> } {
  const child = tracked(spawn(process.execPath, ['-r', resolve(repoRoot, 'src/bootstrap/register'), resolve(repoRoot, script), ...args], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] }));
  const tail = stderrTail(child);
  return { child, done: exitOf(child).then((end) => ({ ...end, stderr: tail() })) };
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as { port: number };
  await new Promise((r) => probe.close(r));
  return port;
}

/** `dagwright serve` on one port, restarted whenever it dies; which of its processes were killed is kept for the clients' accounting. */
export class SupervisedServer implements ServerEndpoint {
  instance = 0;
  /** Times it exited without being killed or stopped. */
  crashes = 0;
  private child: ChildProcess | undefined;
  private starting: Promise<void> | undefined;
  private stopping = false;
  private readonly killed = new Set<number>();

  private constructor(
    private readonly store: string,
    private readonly port: number,
    private readonly logger: Logger,
  ) {}

  static async start(store: string, logger: Logger): Promise<SupervisedServer> {
    const server = new SupervisedServer(store, await freePort(), logger);
    await server.restart();
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  ready(): Promise<void> {
    return this.starting ?? Promise.resolve();
  }

  wasKilled(instance: number): boolean {
    return this.killed.has(instance);
  }

  /** SIGKILLs the serving process (counted as a kill of this instance) and starts the next; true when the kill ended it. */
  async kill(): Promise<boolean> {
    const child = this.child;
    if (!child || this.starting) return false;
    this.killed.add(this.instance);
    this.starting = this.restartAfter(child);
    const ended = await killNow(child);
    await this.starting;
    return ended;
  }

  /** The version the server answers with now (undefined while it has none). */
  async version(): Promise<number | undefined> {
    await this.ready();
    const response = await fetch(`${this.url}/v2/models/${MODEL}/ready`).catch(() => undefined);
    if (!response?.ok) return undefined;
    return Number(((await response.json()) as { version?: string }).version);
  }

  /** SIGTERM: the server drains, flushes its prediction log and exits. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.starting?.catch(() => undefined);
    const child = this.child;
    if (!child || exited(child)) return;
    child.kill('SIGTERM');
    const end = await Promise.race([exitOf(child), sleep(30_000).then(() => undefined)]);
    if (!end) await killNow(child);
  }

  private async restartAfter(dead: ChildProcess): Promise<void> {
    await exitOf(dead);
    await this.restart();
  }

  private restart(): Promise<void> {
    this.starting = this.spawnReady().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async spawnReady(): Promise<void> {
    const args = ['serve', '--store', this.store, '--model', MODEL, '--port', String(this.port), '--poll-ms', String(SERVER.pollMs)];
    args.push('--log-chunk-records', String(SERVER.chunkRecords), '--log-chunk-seconds', String(SERVER.chunkMaxAgeMs / 1000), '--log-level', 'warn');
    const child = tracked(spawn(process.execPath, [resolve(repoRoot, 'bin/dagwright.js'), ...args], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] }));
    const tail = stderrTail(child);
    this.child = child;
    const instance = ++this.instance;
    // A server that dies by itself is restarted too, as a supervisor would, and counted: what it loses is not a kill's.
    child.once('exit', (code, signal) => {
      if (this.stopping || this.killed.has(instance)) return;
      this.crashes++;
      this.logger.warn({ code, signal, stderr: tail() }, 'operate --chaos: the model server exited by itself; starting it again');
      if (!this.starting) void this.restart();
    });
    const deadline = Date.now() + 180_000;
    for (;;) {
      if (exited(child)) throw new Error(`dagwright serve exited (${child.exitCode ?? child.signalCode}) before it was ready: ${tail()}`);
      const response = await fetch(`${this.url}/v2/health/ready`).catch(() => undefined);
      if (response?.ok) return;
      if (Date.now() > deadline) throw new Error(`dagwright serve on ${this.url} was not ready after 180 s: ${tail()}`);
      await sleep(100);
    }
  }
}
