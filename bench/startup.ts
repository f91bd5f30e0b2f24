/**
 * Start-up: how long a flow takes when it has nothing to do, as users start
 * it, against `node -e 0` and npx's own floor measured in the same rounds.
 *
 * 1. Makes a store complete for the main job with small settings
 *    (`flows/train.ts --increment 1 --epochs 1`, in process, about 15 s), or
 *    uses `--store DIR` if given (complete for those settings already).
 * 2. Runs, `--rounds` times (default 7), interleaved so load hits all alike:
 *    `node -e 0`; `npx ts-node --version` (npx's floor); the no-op re-run of
 *    `flows/train.ts` (same settings, default executor) started as
 *    `node_modules/.bin/ts-node`, as `npx ts-node`, and as
 *    `node -r ./src/bootstrap/register` (the cron form); `flows/train.ts --help`
 *    both ways; importing the library (`node -r ./src/bootstrap/register -e "require('./src')"`).
 * 3. Once: the no-op re-run with an empty compile cache (the first start after
 *    checking out or editing everything), and the peak RSS (VmHWM) of a
 *    1,000-task flow (bench/fixtures/fan-in-flow.ts, in process, a fresh store)
 *    started both ways, and with V8's young generation capped at 2 MB semi-spaces.
 *
 * Prints min and median of each (and the median CPU time, user + system, of
 * the node processes: less disturbed by other load than wall time); the last
 * line is JSON (seconds, MB), with the Node.js version it ran on: every
 * process it starts runs on the node running it (and the npx and ts-node on
 * PATH). bench/node-versions.ts runs it under several versions of Node.js.
 *
 *   npm run bench:startup [-- --rounds 7] [-- --store DIR]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const root = resolve(__dirname, '..');
const tsNode = join(root, 'node_modules', '.bin', 'ts-node');
const register = './src/bootstrap/register';
const small = ['--increment', '1', '--epochs', '1'];

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

interface Timed {
  seconds: number;
  stdout: string;
  stderr: string;
}

/** What the measured process says of itself at exit, through the preload `report` (see writeReportPreload). */
interface SelfReport {
  /** Peak RSS (Linux VmHWM), MB. */
  peakMb: number;
  /** User + system CPU time, seconds: less disturbed by other load on the machine than wall time. */
  cpuSeconds: number;
}

/** Runs a command to its end from the project folder; throws unless it exits 0. */
function timed(command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Timed {
  const started = performance.now();
  // npm_* from `npm run` would make flows watch their parent (see src/flow/launcher-exit.ts): start them as a shell does.
  const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_')));
  const child = spawnSync(command, args, { cwd: root, env: { ...cleanEnv, ...env }, encoding: 'utf8', maxBuffer: 64 << 20 });
  const seconds = (performance.now() - started) / 1000;
  if (child.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${child.status ?? child.signal}:\n${child.stderr.slice(-2000)}`);
  return { seconds, stdout: child.stdout, stderr: child.stderr };
}

function noop<T extends Timed>(result: T, what: string): T {
  if (!result.stderr.includes('nothing to run')) throw new Error(`${what} was not a no-op (is the store complete?):\n${result.stderr.slice(-1500)}`);
  return result;
}

const min = (xs: number[]) => Math.min(...xs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * The preload a measured node process reports through. VmHWM, not getrusage's
 * maxRSS: Linux carries a parent's maxRSS over fork and exec into the child's.
 */
function writeReportPreload(work: string): string {
  const report = join(work, 'report.js');
  writeFileSync(
    report,
    "process.on('exit', () => { const fs = require('fs'); const hwm = /VmHWM:\\s*(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));\n" +
      '  const cpu = process.cpuUsage(); const kb = hwm ? Number(hwm[1]) : process.resourceUsage().maxRSS;\n' +
      '  fs.writeFileSync(process.env.DAGWRIGHT_BENCH_REPORT, JSON.stringify({ peakMb: kb / 1024, cpuSeconds: (cpu.user + cpu.system) / 1e6 })); });\n',
  );
  return report;
}

/** Runs a node process (not npx: its children would overwrite the report) with the report preload. */
function measured(report: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Timed & SelfReport {
  const out = join(dirname(report), 'report.json');
  const result = timed(command, args, { ...env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} -r ${report}`, DAGWRIGHT_BENCH_REPORT: out });
  return { ...result, ...(JSON.parse(readFileSync(out, 'utf8')) as SelfReport) };
}

type Sample = { seconds: number; cpuSeconds?: number };

/** The start-ups measured in every round, by name. */
function startups(report: string, flowArgs: readonly string[]): Record<string, () => Sample> {
  return {
    node: () => measured(report, process.execPath, ['-e', '0']),
    npxFloor: () => timed('npx', ['ts-node', '--version']),
    noop: () => noop(measured(report, tsNode, flowArgs), 'ts-node flows/train.ts'),
    noopNpx: () => noop(timed('npx', ['ts-node', ...flowArgs]), 'npx ts-node flows/train.ts'),
    noopNodeR: () => noop(measured(report, process.execPath, ['-r', register, ...flowArgs]), 'node -r register flows/train.ts'),
    help: () => measured(report, tsNode, ['flows/train.ts', '--help']),
    helpNpx: () => timed('npx', ['ts-node', 'flows/train.ts', '--help']),
    import: () => measured(report, process.execPath, ['-r', register, '-e', "require('./src')"]),
  };
}

/** Every start-up `rounds` times, interleaved so that other load hits them alike; after one warm-up round. */
function measureRounds(runs: Record<string, () => Sample>, rounds: number): Record<string, Sample[]> {
  const samples: Record<string, Sample[]> = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
  for (const run of Object.values(runs)) run(); // warm the compile cache and the disk cache
  for (let round = 0; round < rounds; round++) for (const [name, run] of Object.entries(runs)) samples[name]!.push(run());
  return samples;
}

/** Peak RSS of a 1,000-task flow (fresh store, in process), started three ways. */
function fanInPeaks(report: string, work: string) {
  const fanIn = (dir: string) => ['bench/fixtures/fan-in-flow.ts', '--tasks', '1000', '--executor', 'inprocess', '--store', join(work, dir)];
  return {
    nodeR: measured(report, process.execPath, ['-r', register, ...fanIn('fan-in-node-r')]).peakMb,
    tsNode: measured(report, tsNode, fanIn('fan-in-ts-node')).peakMb,
    // Most of the peak is V8's young generation, grown under the allocation rate; capped, the same flow:
    smallYoung: measured(report, process.execPath, ['--max-semi-space-size=2', '-r', register, ...fanIn('fan-in-semi-2')]).peakMb,
    node: measured(report, process.execPath, ['-e', '0']).peakMb,
  };
}

const labels: Record<string, string> = {
  node: 'node -e 0',
  npxFloor: 'npx ts-node --version (npx floor)',
  noop: 'ts-node flows/train.ts (no-op re-run)',
  noopNpx: 'npx ts-node flows/train.ts (no-op re-run)',
  noopNodeR: 'node -r register flows/train.ts (no-op)',
  help: 'ts-node flows/train.ts --help',
  helpNpx: 'npx ts-node flows/train.ts --help',
  import: 'import the library (node -r register)',
};

function main(): void {
  const rounds = Number(option('--rounds') ?? 7);
  const work = mkdtempSync(join(tmpdir(), 'dagwright-bench-startup-'));
  const store = option('--store') ?? join(work, 'store');
  const flowArgs = ['flows/train.ts', ...small, '--store', store];
  console.log(`node ${process.version} (${process.execPath})`);
  try {
    if (option('--store') === undefined) {
      console.log(`making ${store} complete: flows/train.ts ${small.join(' ')} (in process)`);
      timed(process.execPath, ['-r', register, ...flowArgs, '--executor', 'inprocess']);
    }
    const report = writeReportPreload(work);
    const samples = measureRounds(startups(report, flowArgs), rounds);
    const wall = (name: string) => median(samples[name]!.map((x) => x.seconds));
    const fastest = (name: string) => min(samples[name]!.map((x) => x.seconds));
    const cpu = (name: string) => median(samples[name]!.map((x) => x.cpuSeconds ?? NaN));
    const cold = noop(measured(report, tsNode, flowArgs, { DAGWRIGHT_TS_CACHE_DIR: join(work, 'cold-cache') }), 'cold ts-node flows/train.ts');
    const peaks = fanInPeaks(report, work);

    for (const [name, label] of Object.entries(labels)) {
      const xs = samples[name]!.map((x) => x.seconds);
      const cpuText = samples[name]![0]!.cpuSeconds === undefined ? '' : `  cpu ${cpu(name).toFixed(3)} s`;
      console.log(`${label.padEnd(46)} min ${min(xs).toFixed(3)} s  median ${median(xs).toFixed(3)} s${cpuText}`);
    }
    console.log(`${'no-op re-run, empty compile cache (once)'.padEnd(46)} ${cold.seconds.toFixed(3)} s  cpu ${cold.cpuSeconds.toFixed(3)} s`);
    console.log(
      `peak RSS: 1,000-task flow ${peaks.nodeR.toFixed(1)} MB (node -r register), ${peaks.tsNode.toFixed(1)} MB (ts-node), ` +
        `${peaks.smallYoung.toFixed(1)} MB (node --max-semi-space-size=2 -r register); node -e 0 ${peaks.node.toFixed(1)} MB`,
    );
    const npxOverFloor = wall('noopNpx') - wall('npxFloor');
    console.log(`npx ts-node no-op minus npx floor (medians): ${npxOverFloor.toFixed(3)} s; ts-node no-op / node -e 0 (medians): ${(wall('noop') / wall('node')).toFixed(1)}x`);
    const r = (x: number) => Number(x.toFixed(3));
    console.log(
      JSON.stringify({
        bench: 'startup',
        node: process.version,
        settings: `flows/train.ts --increment 1 --epochs 1, store complete; medians of ${rounds}`,
        noop_rerun_s: r(wall('noop')),
        noop_rerun_npx_s: r(wall('noopNpx')),
        npx_floor_s: r(wall('npxFloor')),
        noop_rerun_npx_over_floor_s: r(npxOverFloor),
        noop_rerun_node_r_s: r(wall('noopNodeR')),
        noop_rerun_cold_cache_s: r(cold.seconds),
        help_s: r(wall('help')),
        help_npx_s: r(wall('helpNpx')),
        import_s: r(wall('import')),
        node_s: r(wall('node')),
        noop_rerun_vs_node: r(wall('noop') / wall('node')),
        // The fastest of the rounds: the least disturbed by other load.
        noop_rerun_min_s: r(fastest('noop')),
        noop_rerun_npx_min_s: r(fastest('noopNpx')),
        npx_floor_min_s: r(fastest('npxFloor')),
        noop_rerun_node_r_min_s: r(fastest('noopNodeR')),
        help_min_s: r(fastest('help')),
        help_npx_min_s: r(fastest('helpNpx')),
        import_min_s: r(fastest('import')),
        node_min_s: r(fastest('node')),
        noop_rerun_cpu_s: r(cpu('noop')),
        noop_rerun_node_r_cpu_s: r(cpu('noopNodeR')),
        help_cpu_s: r(cpu('help')),
        import_cpu_s: r(cpu('import')),
        node_cpu_s: r(cpu('node')),
        rss_1k_mb: r(peaks.nodeR),
        rss_1k_ts_node_mb: r(peaks.tsNode),
        rss_1k_semi_space_2_mb: r(peaks.smallYoung),
        rss_node_mb: r(peaks.node),
      }),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
