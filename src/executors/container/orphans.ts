import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { hostname } from 'node:os';
import { processAlive } from '../../process-alive';
import { Labels, labelFilter } from './labels';

export interface PruneOptions {
  /** Also remove containers (services) whose owning flow process is still running (or on another host). Default false. */
  all?: boolean;
  /** Only this run's. */
  runId?: string;
  /** List what would be removed; remove nothing. */
  dryRun?: boolean;
}

/**
 * The orphan filter: whether a container or service with these labels belongs
 * to a flow process that is gone (a dead pid on this host). Those of live
 * processes, of this process and of other hosts are kept unless `all`.
 */
export function isOrphan(labels: Readonly<Record<string, string>>, options: { all?: boolean } = {}): boolean {
  if (options.all) return true;
  const pid = Number(labels[Labels.ownerPid]);
  if (labels[Labels.ownerHost] !== hostname() || !Number.isSafeInteger(pid)) return false;
  return pid === process.pid ? false : !processAlive(pid);
}

/**
 * Whether a local engine (Unix socket) has containers of dead flows, asked
 * with one plain HTTP request, without loading dockerode: a run that needs
 * no Docker client otherwise still finds orphans before it plans. False when
 * the engine does not answer in time (the Docker set-up prunes later anyway).
 */
export function localEngineHasOrphans(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  const path = `/containers/json?all=1&filters=${encodeURIComponent(labelFilter())}`;
  return new Promise((resolve) => {
    const req = request({ socketPath, path, method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        try {
          const listed = JSON.parse(body) as { Labels?: Record<string, string> }[];
          resolve(res.statusCode === 200 && listed.some((c) => isOrphan(c.Labels ?? {})));
        } catch {
          resolve(false);
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/**
 * The reaper's program, run by `node -e` with the session label value and
 * dockerode's path as arguments. Its stdin is a pipe from the flow process:
 * the pipe closes when that process ends in any way, SIGKILL included, and
 * the reaper then removes every container and service of the session
 * (twice, a moment apart, for one whose creation was in flight).
 */
const reaperSource = `'use strict';
const [session, dockerodePath] = process.argv.slice(1);
const Docker = require(dockerodePath);
const filters = JSON.stringify({ label: ['${Labels.session}=' + session] });
let started = false;
async function sweep(docker) {
  try {
    const cs = await docker.listContainers({ all: true, filters });
    await Promise.all(cs.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => {})));
  } catch {}
  try {
    const ss = await docker.listServices({ filters });
    await Promise.all(ss.map((s) => docker.getService(s.ID).remove().catch(() => {})));
  } catch {}
}
async function reap() {
  if (started) return;
  started = true;
  const docker = new Docker();
  await sweep(docker);
  await new Promise((r) => setTimeout(r, 1500));
  await sweep(docker);
  process.exit(0);
}
process.stdin.on('end', reap);
process.stdin.on('close', reap);
process.stdin.on('error', reap);
process.stdin.resume();
`;

/**
 * A watchdog process for one executor session, so that no step outlives its
 * flow: when the flow process dies (SIGKILL, a crash, an OOM kill) the
 * reaper notices at once (its stdin pipe closes) and removes the session's
 * containers and services within a second or two. Started on the first step;
 * `stop()` ends it after the executor has removed its own steps. The reaper
 * runs in its own process group, so a signal to the flow's group does not
 * take it down too; it holds no reference that keeps the flow alive.
 */
export class Reaper {
  private child: ChildProcess | undefined;

  constructor(private readonly session: string) {}

  /** Starts the watchdog once; later calls do nothing. Never throws: without it, the next run's prune still removes orphans. */
  ensureStarted(): void {
    if (this.child) return;
    try {
      const child = spawn(process.execPath, ['-e', reaperSource, this.session, require.resolve('dockerode')], {
        detached: true,
        stdio: ['pipe', 'ignore', 'ignore'],
        env: process.env,
      });
      child.on('error', () => {});
      child.stdin?.on('error', () => {});
      child.unref();
      (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
      this.child = child;
    } catch {
      this.child = undefined;
    }
  }

  /** Lets the watchdog sweep (nothing should be left) and exit. */
  stop(): void {
    this.child?.stdin?.end();
    this.child = undefined;
  }
}
