/** The part of tar-stream 2.x (a dependency of dockerode's tar-fs) that test/helpers/registry-push.ts uses. */
declare module 'tar-stream' {
  import type { Readable, Writable } from 'node:stream';

  interface Headers {
    name: string;
    size?: number;
    type?: string;
  }

  interface Extract extends Writable {
    on(event: 'entry', listener: (header: Headers, stream: Readable, next: (err?: unknown) => void) => void): this;
    on(event: 'finish', listener: () => void): this;
    on(event: 'error', listener: (err: Error) => void): this;
  }

  export function extract(): Extract;
}
