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
 * Prints min and median of each; the last line is JSON (seconds, MB).
 *
 *   npm run bench:startup [-- --rounds 7] [-- --store DIR]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

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

function noop(result: Timed, what: string): Timed {
  if (!result.stderr.includes('nothing to run')) throw new Error(`${what} was not a no-op (is the store complete?):\n${result.stderr.slice(-1500)}`);
  return result;
}

const min = (xs: number[]) => Math.min(...xs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Peak RSS in MB of a flow process, as the process itself saw it at exit (Linux: VmHWM). */
function peakRss(command: string, args: readonly string[], report: string, work: string): number {
  const out = join(work, 'peak-rss.txt');
  timed(command, args, { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} -r ${report}`, DAGWRIGHT_BENCH_RSS_FILE: out });
  return Number(readFileSync(out, 'utf8')) / 1024;
}

function main(): void {
  const rounds = Number(option('--rounds') ?? 7);
  const work = mkdtempSync(join(tmpdir(), 'dagwright-bench-startup-'));
  const store = option('--store') ?? join(work, 'store');
  const flowArgs = ['flows/train.ts', ...small, '--store', store];
  try {
    if (option('--store') === undefined) {
      console.log(`making ${store} complete: flows/train.ts ${small.join(' ')} (in process)`);
      timed(process.execPath, ['-r', register, ...flowArgs, '--executor', 'inprocess']);
    }
    const runs = {
      node: () => timed(process.execPath, ['-e', '0']),
      npxFloor: () => timed('npx', ['ts-node', '--version']),
      noop: () => noop(timed(tsNode, flowArgs), 'ts-node flows/train.ts'),
      noopNpx: () => noop(timed('npx', ['ts-node', ...flowArgs]), 'npx ts-node flows/train.ts'),
      noopNodeR: () => noop(timed(process.execPath, ['-r', register, ...flowArgs]), 'node -r register flows/train.ts'),
      help: () => timed(tsNode, ['flows/train.ts', '--help']),
      helpNpx: () => timed('npx', ['ts-node', 'flows/train.ts', '--help']),
      import: () => timed(process.execPath, ['-r', register, '-e', "require('./src')"]),
    };
    const seconds: Record<keyof typeof runs, number[]> = Object.fromEntries(Object.keys(runs).map((k) => [k, []])) as never;
    for (const run of Object.values(runs)) run(); // warm the compile cache and the disk cache
    for (let round = 0; round < rounds; round++) {
      for (const [name, run] of Object.entries(runs)) seconds[name as keyof typeof runs].push(run().seconds);
    }
    const coldCache = join(work, 'cold-cache');
    const cold = noop(timed(tsNode, flowArgs, { DAGWRIGHT_TS_CACHE_DIR: coldCache }), 'cold ts-node flows/train.ts').seconds;

    const report = join(work, 'report-rss.js');
    // VmHWM, not getrusage's maxRSS: Linux carries a parent's maxRSS over fork and exec into the child's.
    writeFileSync(
      report,
      "process.on('exit', () => { const fs = require('fs'); const hwm = /VmHWM:\\s*(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));\n" +
        "  fs.writeFileSync(process.env.DAGWRIGHT_BENCH_RSS_FILE, hwm ? hwm[1] : String(process.resourceUsage().maxRSS)); });\n",
    );
    const fanIn = (dir: string) => ['bench/fixtures/fan-in-flow.ts', '--tasks', '1000', '--executor', 'inprocess', '--store', join(work, dir)];
    const rss1k = peakRss(process.execPath, ['-r', register, ...fanIn('fan-in-node-r')], report, work);
    const rss1kTsNode = peakRss(tsNode, fanIn('fan-in-ts-node'), report, work);
    // Most of the peak is V8's young generation grown under the allocation rate; capped, the same flow:
    const rss1kSmallYoung = peakRss(process.execPath, ['--max-semi-space-size=2', '-r', register, ...fanIn('fan-in-semi-2')], report, work);
    const rssNode = peakRss(process.execPath, ['-e', '0'], report, work);

    const line = (label: string, xs: number[]) => console.log(`${label.padEnd(46)} min ${min(xs).toFixed(3)} s  median ${median(xs).toFixed(3)} s`);
    line('node -e 0', seconds.node);
    line('npx ts-node --version (npx floor)', seconds.npxFloor);
    line('ts-node flows/train.ts (no-op re-run)', seconds.noop);
    line('npx ts-node flows/train.ts (no-op re-run)', seconds.noopNpx);
    line('node -r register flows/train.ts (no-op)', seconds.noopNodeR);
    line('ts-node flows/train.ts --help', seconds.help);
    line('npx ts-node flows/train.ts --help', seconds.helpNpx);
    line('import the library (node -r register)', seconds.import);
    console.log(`${'no-op re-run, empty compile cache (once)'.padEnd(46)} ${cold.toFixed(3)} s`);
    console.log(
      `peak RSS: 1,000-task flow ${rss1k.toFixed(1)} MB (node -r register), ${rss1kTsNode.toFixed(1)} MB (ts-node), ` +
        `${rss1kSmallYoung.toFixed(1)} MB (node --max-semi-space-size=2 -r register); node -e 0 ${rssNode.toFixed(1)} MB`,
    );
    const npxOverFloor = median(seconds.noopNpx) - median(seconds.npxFloor);
    console.log(`npx ts-node no-op minus npx floor (medians): ${npxOverFloor.toFixed(3)} s; ts-node no-op / node -e 0 (medians): ${(median(seconds.noop) / median(seconds.node)).toFixed(1)}x`);
    const r = (x: number) => Number(x.toFixed(3));
    console.log(
      JSON.stringify({
        bench: 'startup',
        settings: 'flows/train.ts --increment 1 --epochs 1, store complete; medians of ' + rounds,
        noop_rerun_s: r(median(seconds.noop)),
        noop_rerun_min_s: r(min(seconds.noop)),
        noop_rerun_npx_s: r(median(seconds.noopNpx)),
        npx_floor_s: r(median(seconds.npxFloor)),
        noop_rerun_npx_over_floor_s: r(npxOverFloor),
        noop_rerun_node_r_s: r(median(seconds.noopNodeR)),
        noop_rerun_cold_cache_s: r(cold),
        help_s: r(median(seconds.help)),
        help_npx_s: r(median(seconds.helpNpx)),
        import_s: r(median(seconds.import)),
        node_s: r(median(seconds.node)),
        noop_rerun_vs_node: r(median(seconds.noop) / median(seconds.node)),
        rss_1k_mb: r(rss1k),
        rss_1k_ts_node_mb: r(rss1kTsNode),
        rss_1k_semi_space_2_mb: r(rss1kSmallYoung),
        rss_node_mb: r(rssNode),
      }),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
