/**
 * Test hosts on one machine: each a network namespace with its own address on
 * a private bridge in 198.18.0.0/15, its own hostname (a UTS namespace kept in
 * a file) and its own Docker engine, whose state lives under the cluster's
 * folder. Everything made is written to a state file first, so that
 * `destroyHosts` can remove it from that file alone: after a failed test, on
 * SIGINT/SIGTERM, or from another process (`.ci/swarm-cluster down`).
 *
 * Teardown is synchronous on purpose: it must also run from a signal handler
 * and from `process.on('exit')`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** One host: names and paths, all derived from the cluster id and the host's index. */
export interface HostState {
  readonly name: string;
  readonly netns: string;
  /** The bridge end of the host's veth pair (the other end is `eth0` inside the namespace). */
  readonly veth: string;
  readonly address: string;
  readonly dir: string;
  readonly socket: string;
  readonly utsFile: string;
  readonly cgroupParent: string;
}

export interface HostsState {
  readonly id: string;
  /** The process that made the hosts; a stale state (that process gone) may be removed by anyone. */
  readonly ownerPid: number;
  readonly dir: string;
  /**
   * A tmpfs under `dir` holding the engines' and the registry's state: a few GB of image layers (tens of
   * thousands of files) that rm -rf takes minutes over on a busy disk, and an unmount frees at once.
   */
  readonly scratch: string;
  readonly bridge: string;
  /** The bridge's own address (this machine's side), e.g. 198.18.42.1; servers for the cluster bind here. */
  readonly bridgeAddress: string;
  readonly prefix: string;
  readonly hosts: HostState[];
}

const stateFileName = 'state.json';

/** Runs a program (never a shell); throws with its stderr when it fails. */
export function must(program: string, args: readonly string[], input?: string): string {
  const r = spawnSync(program, args, { encoding: 'utf8', input, timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${program} ${args.join(' ')} failed: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
  return r.stdout;
}

/** Runs a program and ignores failure (teardown: the thing may already be gone). */
function attempt(program: string, args: readonly string[]): boolean {
  return spawnSync(program, args, { stdio: 'ignore', timeout: 30_000 }).status === 0;
}

/** A /24 in 198.18.0.0/15 that no interface of this machine uses yet. */
function freePrefix(): string {
  const used = must('ip', ['-4', '-o', 'addr', 'show']);
  for (let tries = 0; tries < 50; tries++) {
    const prefix = `198.18.${32 + Math.floor(Math.random() * 220)}`;
    if (!used.includes(` ${prefix}.`)) return prefix;
  }
  throw new Error('no free /24 in 198.18.32.0-198.18.251.255 for the test bridge');
}

/** Names and paths for `count` hosts; nothing is made yet. */
export function planHosts(id: string, dir: string, count: number): HostsState {
  const prefix = freePrefix();
  const hosts = Array.from({ length: count }, (_, i): HostState => {
    const hostDir = join(dir, 'fs', `h${i + 1}`);
    return {
      name: `dw-${id}-${i === 0 ? 'manager' : `worker${i}`}`,
      netns: `dwc${id}-h${i + 1}`,
      veth: `dwc${id}h${i + 1}`,
      address: `${prefix}.${11 + i}`,
      dir: hostDir,
      socket: join(hostDir, 'sock'),
      utsFile: join(hostDir, 'uts'),
      cgroupParent: `/dwc${id}-h${i + 1}`,
    };
  });
  return { id, ownerPid: process.pid, dir, scratch: join(dir, 'fs'), bridge: `dwc${id}`, bridgeAddress: `${prefix}.1`, prefix, hosts };
}

export function writeState(state: HostsState): void {
  mkdirSync(state.dir, { recursive: true });
  writeFileSync(join(state.dir, stateFileName), JSON.stringify(state, null, 2));
}

export function readState(dir: string): HostsState | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, stateFileName), 'utf8')) as HostsState;
  } catch {
    return undefined;
  }
}

/** The bridge with its address, then per host a namespace, a veth pair into it, loopback and links up, and a hostname. */
export function makeNetwork(state: HostsState): void {
  mkdirSync(state.scratch, { recursive: true });
  must('mount', ['-t', 'tmpfs', '-o', 'size=8g,mode=0700', `dwc${state.id}`, state.scratch]);
  must('ip', ['link', 'add', state.bridge, 'type', 'bridge']);
  must('ip', ['addr', 'add', `${state.bridgeAddress}/24`, 'dev', state.bridge]);
  must('ip', ['link', 'set', state.bridge, 'up']);
  for (const h of state.hosts) {
    mkdirSync(h.dir, { recursive: true });
    must('ip', ['netns', 'add', h.netns]);
    must('ip', ['link', 'add', h.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.netns]);
    must('ip', ['link', 'set', h.veth, 'master', state.bridge, 'up']);
    must('ip', ['-n', h.netns, 'addr', 'add', `${h.address}/24`, 'dev', 'eth0']);
    must('ip', ['-n', h.netns, 'link', 'set', 'eth0', 'up']);
    must('ip', ['-n', h.netns, 'link', 'set', 'lo', 'up']);
    // Distinct hostnames, so that Swarm's node list and the run history tell the hosts apart.
    writeFileSync(h.utsFile, '');
    must('unshare', [`--uts=${h.utsFile}`, 'hostname', h.name]);
  }
}

/**
 * Starts the host's engine inside its namespaces (nsenter, not `ip netns
 * exec`, which remounts /sys and makes dockerd fail with "Devices cgroup
 * isn't mounted"): no bridge, no iptables, local networks (docker_gwbridge)
 * from 198.19.128.0/17 instead of a private range, a cgroup parent of its own,
 * and plain-HTTP access to the cluster's registry.
 */
export function startEngine(h: HostState, insecureRegistry: string): void {
  mkdirSync(h.dir, { recursive: true });
  const log = openSync(join(h.dir, 'dockerd.log'), 'a');
  const args = [
    `--net=/var/run/netns/${h.netns}`,
    `--uts=${h.utsFile}`,
    'dockerd',
    ...['--data-root', join(h.dir, 'data'), '--exec-root', join(h.dir, 'x'), '--pidfile', join(h.dir, 'pid')],
    ...['-H', `unix://${h.socket}`, '--bridge=none', '--iptables=false', '--ip-masq=false'],
    ...['--default-address-pool', 'base=198.19.128.0/17,size=24', '--cgroup-parent', h.cgroupParent],
    ...['--insecure-registry', insecureRegistry, '--log-level', 'warn'],
  ];
  const child = spawn('nsenter', args, { detached: true, stdio: ['ignore', log, log] });
  child.unref();
}

/** Kills every process in the host's namespace (its engine, containerd, shims, containers on the host network, a registry). */
export function killHostProcesses(h: HostState): void {
  for (let round = 0; round < 50; round++) {
    const listed = spawnSync('ip', ['netns', 'pids', h.netns], { encoding: 'utf8' });
    const pids = listed.status === 0 ? listed.stdout.split(/\s+/).filter(Boolean).map(Number) : [];
    const pidFile = join(h.dir, 'pid');
    if (round === 0 && existsSync(pidFile)) pids.push(Number(readFileSync(pidFile, 'utf8')));
    const alive = pids.filter((pid) => pid > 1 && pid !== process.pid);
    if (alive.length === 0) return;
    for (const pid of alive) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    spawnSync('sleep', ['0.1']);
  }
}

/** Mount points of this machine at or under `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  const lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  const points = lines.map((l) => l.split(' ')[4]).filter((p): p is string => p !== undefined && (p === dir || p.startsWith(`${dir}/`)));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Removes the empty cgroups the engines made (cgroup v1: one tree per controller; v2: one). */
function removeCgroups(parent: string): void {
  const roots = existsSync('/sys/fs/cgroup/cgroup.controllers')
    ? ['/sys/fs/cgroup']
    : readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c));
  const removeTree = (path: string) => {
    let entries: string[] = [];
    try {
      entries = readdirSync(path, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch {
      return;
    }
    for (const e of entries) removeTree(join(path, e));
    try {
      rmdirSync(path);
    } catch {
      // busy or gone
    }
  };
  for (const root of roots) removeTree(join(root, parent));
}

/** Removes everything `state` lists: processes, mounts, hostnames, namespaces, links, cgroups, the folder. Idempotent. */
export function destroyHosts(state: HostsState): void {
  for (const h of state.hosts) killHostProcesses(h);
  for (const point of mountsUnder(state.dir)) attempt('umount', ['-l', point]);
  for (const h of state.hosts) {
    attempt('ip', ['netns', 'del', h.netns]);
    attempt('ip', ['link', 'del', h.veth]);
    removeCgroups(h.cgroupParent);
  }
  attempt('ip', ['link', 'del', state.bridge]);
  // rm(1), not fs.rmSync: engines' image layers are tens of thousands of files, which rmSync takes minutes over.
  // --one-file-system: never follow a mount that is somehow still there into another file system.
  const removed = spawnSync('rm', ['-rf', '--one-file-system', state.dir], { encoding: 'utf8', timeout: 600_000 });
  if (removed.status !== 0) process.stderr.write(`cluster teardown: rm -rf ${state.dir}: ${removed.stderr.trim().split('\n').slice(0, 5).join('; ')}\n`);
}

/** Hosts made by processes that no longer run (a crash, a kill -9): their state files under `root`. */
export function staleStates(root: string, prefix: string): HostsState[] {
  let names: string[] = [];
  try {
    names = readdirSync(root).filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  return names.map((n) => readState(join(root, n))).filter((s): s is HostsState => s !== undefined && !alive(s.ownerPid));
}
