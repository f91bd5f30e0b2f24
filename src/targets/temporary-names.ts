/**
 * Names of temporary siblings, and whether the writer of one is still alive.
 * A temporary name carries its writer: a hash of the host name, the pid and
 * the process's start time (so a pid reused by a later process is told
 * apart), so a sweep removes leftovers of dead writers and never a live
 * writer's file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { processAlive } from '../process-alive';

const marker = '.dagwright-tmp-';

function hostHash(host: string): string {
  return createHash('sha256').update(host).digest('hex').slice(0, 8);
}

let bootSeconds: number | undefined;

/**
 * When process `pid` started, in whole seconds since the epoch, from
 * /proc (Linux); undefined where there is no /proc or no such process.
 */
export function processStartSeconds(pid: number | 'self'): number | undefined {
  try {
    bootSeconds ??= Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))![1]);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22, counted after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return bootSeconds + Math.floor(Number(fields[19]) / 100);
  } catch {
    return undefined;
  }
}

const thisHost = hostHash(hostname());
const thisStart = processStartSeconds('self') ?? Math.floor(Date.now() / 1000 - process.uptime());
const writerId = `${thisHost}-${process.pid}-${thisStart.toString(36)}-${randomBytes(3).toString('hex')}`;
let writes = 0;

/**
 * A temporary path beside `path`: same directory (so rename is atomic), a
 * dot-name that says what it is and who writes it, and a counter so one
 * writer's files never collide.
 */
export function temporarySibling(path: string): string {
  return join(dirname(path), `.${basename(path)}${marker}${writerId}-${(writes++).toString(36)}`);
}

/** The writer a temporary name names; `host` and `startSeconds` are missing for names from older versions. */
export interface TemporaryWriter {
  readonly host?: string;
  readonly pid: number;
  readonly startSeconds?: number;
}

const current = /\.dagwright-tmp-([0-9a-f]{8})-(\d+)-([0-9a-z]+)-[0-9a-f]{6}-[0-9a-z]+$/;
/** Before writers carried their host and start time: pid, random part, counter. */
const older = /\.dagwright-tmp-(\d+)-[0-9a-f]{6}-[0-9a-z]+$/;

/** The writer of a temporary sibling's name, or undefined when `name` is not one. */
export function temporaryWriter(name: string): TemporaryWriter | undefined {
  if (!name.startsWith('.')) return undefined;
  const now = current.exec(name);
  if (now) return { host: now[1], pid: Number(now[2]), startSeconds: parseInt(now[3], 36) };
  const old = older.exec(name);
  return old ? { pid: Number(old[1]) } : undefined;
}

/** Temporary names of writers on other hosts (or from older versions) are left alone this long: their liveness cannot be checked. */
export const unknownWriterAgeMs = 24 * 60 * 60_000;

/**
 * Whether the writer of a temporary file is gone: on this host, its pid is
 * not running or belongs to a process started at another time; elsewhere
 * (or unknown), only when the file is older than `unknownWriterAgeMs`.
 */
export function writerIsGone(writer: TemporaryWriter, modifiedMs: number, now = Date.now()): boolean {
  if (writer.host !== thisHost || writer.startSeconds === undefined) return now - modifiedMs > unknownWriterAgeMs;
  if (writer.pid === process.pid) return writer.startSeconds !== thisStart;
  if (!processAlive(writer.pid)) return true;
  const started = processStartSeconds(writer.pid);
  // /proc's start time is whole clock ticks, read twice: allow a second either way.
  return started !== undefined && Math.abs(started - writer.startSeconds) > 1;
}
