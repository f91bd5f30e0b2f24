import type { Readable } from 'node:stream';
import type { DockerClient } from '../container/engine-client';
import type { StepLogSink } from '../container/log-stream';

/** One record of the engine's multiplexed log format: an 8-byte header (stream, 3 zero bytes, length) and the payload. */
export interface LogFrame {
  readonly stream: 'stdout' | 'stderr';
  /** The payload as sent, with its timestamp when logs were asked for with `timestamps`. */
  readonly raw: string;
}

/** Splits the engine's multiplexed log bytes into frames; feed it chunks in order. */
export class FrameParser {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): LogFrame[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: LogFrame[] = [];
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      const type = this.pending[0];
      const raw = this.pending.subarray(8, 8 + size).toString('utf8');
      this.pending = this.pending.subarray(8 + size);
      // 0 (stdin, echoed) and 1 are output; 2 is stderr.
      frames.push({ stream: type === 2 ? 'stderr' : 'stdout', raw });
    }
    return frames;
  }
}

/** The text of a `timestamps` frame without its leading RFC 3339 time. */
function withoutTimestamp(raw: string): string {
  const space = raw.indexOf(' ');
  return space > 0 && /^\d{4}-\d\d-\d\dT/.test(raw) ? raw.slice(space + 1) : raw;
}

/**
 * A step's output, as the Swarm manager serves it (`GET /services/{id}/logs`),
 * forwarded into a `StepLogSink`: live while the step runs (a following
 * stream, which never ends by itself), then completed once the step has
 * ended by one non-following read whose lines the live stream had not
 * delivered yet (frames carry timestamps, so lines are matched exactly and
 * none is logged twice).
 */
export class ServiceLogs {
  private readonly seen = new Map<string, number>();
  private live: Readable | undefined;
  private stopped = false;

  constructor(
    private readonly docker: DockerClient,
    private readonly serviceId: string,
    private readonly sink: StepLogSink,
  ) {}

  /** Starts following; errors only lose live delivery, `finish()` still reads everything. */
  follow(): void {
    void (async () => {
      let stream: Readable;
      try {
        stream = (await this.docker.getService(this.serviceId).logs({ follow: true, stdout: true, stderr: true, timestamps: true })) as unknown as Readable;
      } catch {
        return;
      }
      if (this.stopped) {
        stream.destroy();
        return;
      }
      this.live = stream;
      // A following log socket must never keep the process alive.
      (stream as Readable & { socket?: { unref?: () => void } }).socket?.unref?.();
      const parser = new FrameParser();
      stream.on('data', (chunk: Buffer) => {
        if (this.stopped) return;
        for (const frame of parser.push(chunk)) {
          const key = `${frame.stream}\u0000${frame.raw}`;
          this.seen.set(key, (this.seen.get(key) ?? 0) + 1);
          this.emit(frame);
        }
      });
      stream.on('error', () => {});
    })();
  }

  /**
   * Stops the live stream and logs whatever it missed; call once the step's task has ended. `localContainer`:
   * the step's container when it ran on the manager's own engine, whose logs that engine serves at once
   * (the manager's log broker, which serves service logs, takes a round trip through the node's agent).
   */
  async finish(timeoutMs: number, localContainer?: string): Promise<void> {
    this.stop();
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    let all: Buffer;
    try {
      const options = { follow: false, stdout: true, stderr: true, timestamps: true, abortSignal: abort.signal } as object;
      const fromService = async () => (await this.docker.getService(this.serviceId).logs(options)) as unknown;
      const body = localContainer
        ? await (this.docker.getContainer(localContainer).logs(options as { follow: false }) as Promise<unknown>).catch(fromService)
        : await fromService();
      all = Buffer.isBuffer(body) ? body : Buffer.from(String(body ?? ''));
    } catch {
      return;
    } finally {
      clearTimeout(timer);
    }
    for (const frame of new FrameParser().push(all)) {
      const key = `${frame.stream}\u0000${frame.raw}`;
      const count = this.seen.get(key) ?? 0;
      if (count > 0) this.seen.set(key, count - 1);
      else this.emit(frame);
    }
  }

  stop(): void {
    this.stopped = true;
    this.live?.destroy();
  }

  private emit(frame: LogFrame): void {
    const text = withoutTimestamp(frame.raw);
    for (const line of (text.endsWith('\n') ? text.slice(0, -1) : text).split('\n')) this.sink.line(frame.stream, line);
  }
}
