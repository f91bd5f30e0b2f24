import type { Readable } from 'node:stream';
import type { DockerClient } from './engine-client';
import { Labels } from './labels';

/** A step container's end, as the engine announced it. */
export interface ContainerExit {
  readonly containerId: string;
  readonly exitCode: number;
  /** The container's labels (a Swarm task's carry `com.docker.swarm.service.id`). */
  readonly labels: Readonly<Record<string, string>>;
}

/** How long an exit nobody waited for yet is kept (a step's waiter registers just after it creates the step). */
const keepUnclaimedMs = 60_000;

/**
 * The engine's `die` events for one executor session's containers, on one
 * long-lived connection: a waiter learns that its step's container exited the
 * moment the engine knows, instead of polling. Exits that arrive before their
 * waiter are kept for a while. The stream's socket never keeps the process
 * alive; if the stream cannot be opened or breaks, waiters simply never hear
 * (callers keep a slower poll beside it).
 */
export class ContainerExits {
  private stream: Readable | undefined;
  private opening: Promise<void> | undefined;
  private readonly waiters = new Map<string, (exit: ContainerExit) => void>();
  private readonly unclaimed = new Map<string, { exit: ContainerExit; at: number }>();
  private closed = false;

  constructor(
    private readonly docker: DockerClient,
    private readonly session: string,
    /** The label whose value names a step (a Swarm service id); each waiter waits for one value. */
    private readonly keyLabel: string,
  ) {}

  /** Opens the event stream once; resolves when it is open (or could not be). */
  start(): Promise<void> {
    this.opening ??= this.open();
    return this.opening;
  }

  private async open(): Promise<void> {
    const filters = JSON.stringify({ type: ['container'], event: ['die'], label: [`${Labels.session}=${this.session}`] });
    let stream: Readable;
    try {
      stream = (await this.docker.getEvents({ filters } as never)) as unknown as Readable;
    } catch {
      return;
    }
    if (this.closed) {
      stream.destroy();
      return;
    }
    this.stream = stream;
    (stream as Readable & { socket?: { unref?: () => void } }).socket?.unref?.();
    let pending = '';
    stream.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        this.onLine(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    });
    stream.on('error', () => {});
  }

  private onLine(line: string): void {
    let event: { id?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      return;
    }
    const labels = event.Actor?.Attributes ?? {};
    const key = labels[this.keyLabel];
    const exitCode = Number(labels.exitCode);
    if (key === undefined || !Number.isInteger(exitCode)) return;
    const exit: ContainerExit = { containerId: event.Actor?.ID ?? event.id ?? '', exitCode, labels };
    const waiter = this.waiters.get(key);
    if (waiter) {
      this.waiters.delete(key);
      waiter(exit);
      return;
    }
    const now = Date.now();
    for (const [k, v] of this.unclaimed) if (now - v.at > keepUnclaimedMs) this.unclaimed.delete(k);
    this.unclaimed.set(key, { exit, at: now });
  }

  /** Resolves when the container of step `key` exits; `cancel()` stops waiting. */
  wait(key: string): { exited: Promise<ContainerExit>; cancel: () => void } {
    const early = this.unclaimed.get(key);
    if (early) {
      this.unclaimed.delete(key);
      return { exited: Promise.resolve(early.exit), cancel: () => {} };
    }
    let cancel = () => {};
    const exited = new Promise<ContainerExit>((resolve) => {
      this.waiters.set(key, resolve);
      cancel = () => this.waiters.delete(key);
    });
    return { exited, cancel };
  }

  close(): void {
    this.closed = true;
    this.stream?.destroy();
    this.stream = undefined;
    this.waiters.clear();
    this.unclaimed.clear();
  }
}
