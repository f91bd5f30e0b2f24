/**
 * A file that says "this server has a version loaded and warmed", for a
 * health check that cannot ask the server itself: a replacement waiting
 * for the port (`--wait-for-port`) is not listening yet, and the port
 * answers for the server it replaces. Written when a version is loaded,
 * removed as soon as the server stops.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';

export class ReadyFile {
  constructor(readonly path: string) {}

  /** Says which version is ready (atomically: a probe never reads half a file). */
  mark(version: number): void {
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify({ version, pid: process.pid, time: new Date().toISOString() })}\n`);
    renameSync(temporary, this.path);
  }

  clear(): void {
    rmSync(this.path, { force: true });
  }
}
