/**
 * Node.js versions side by side, in one run: bench/startup.ts and
 * bench/scheduler.ts under the node running this script and under every other
 * node binary given (`--node PATH`, repeatable, or BENCH_NODES, paths joined
 * by ':'), alternating between them so that other load on the machine hits all
 * alike. Each child runs with its node's folder first on PATH, so the npx and
 * ts-node it starts run on that node too, and from the same node_modules.
 *
 * Prints the start-up, no-op re-run, peak RSS and fan-in figures per version,
 * each version's ratio to the first, and the load average (os.loadavg, as
 * `uptime` shows it) when each bench started; the last line is JSON.
 *
 *   npm run bench:node-versions -- --node "$(bash .ci/node-version 24)/node" [--rounds 5] [--repeat 1]
 *   BENCH_NODES=/path/to/node24:/path/to/node22 npm run bench:node-versions
 *
 *   --rounds N   rounds of bench:startup (default 5)
 *   --repeat N   run each bench N times per version, report medians (default 1)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';

const root = resolve(__dirname, '..');
const register = './src/bootstrap/register';

function options(name: string): string[] {
  return process.argv.flatMap((arg, i) => (arg === name && process.argv[i + 1] !== undefined ? [process.argv[i + 1]!] : []));
}

type Figures = Record<string, number | string>;

/** Runs `script` under `node` (its folder first on PATH); returns the bench's JSON line and the load when it started. */
function benchUnder(node: string, script: string, args: readonly string[]): { figures: Figures; load: number[] } {
  const load = loadavg().map((x) => Number(x.toFixed(2)));
  // npm_* from `npm run` would make the flows the bench starts watch their parent (src/flow/launcher-exit.ts).
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_')));
  env.PATH = `${dirname(node)}${delimiter}${process.env.PATH ?? ''}`;
  const child = spawnSync(node, ['-r', register, script, ...args], { cwd: root, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (child.status !== 0) throw new Error(`${node} ${script} exited ${child.status ?? child.signal}:\n${(child.stderr || child.stdout).slice(-2000)}`);
  const lines = child.stdout.trimEnd().split('\n');
  const last = lines.pop() ?? '';
  for (const line of lines) console.log(`    ${line}`);
  return { figures: JSON.parse(last) as Figures, load };
}

/** The figures compared, by bench: key in the bench's JSON, label, unit. */
const compared: Record<'startup' | 'scheduler', [string, string, string][]> = {
  startup: [
    // Medians of the rounds, the fastest round, and CPU time (least disturbed by other load).
    ['node_s', 'node -e 0', 's'],
    ['node_min_s', 'node -e 0, fastest', 's'],
    ['node_cpu_s', 'node -e 0, CPU', 's'],
    ['import_s', 'import the library (node -r register)', 's'],
    ['import_cpu_s', 'import the library, CPU', 's'],
    ['noop_rerun_node_r_s', 'no-op re-run, node -r register flows/train.ts', 's'],
    ['noop_rerun_node_r_min_s', 'no-op re-run, node -r register, fastest', 's'],
    ['noop_rerun_node_r_cpu_s', 'no-op re-run, node -r register, CPU', 's'],
    ['noop_rerun_s', 'no-op re-run, ts-node flows/train.ts', 's'],
    ['noop_rerun_min_s', 'no-op re-run, ts-node, fastest', 's'],
    ['noop_rerun_cpu_s', 'no-op re-run, ts-node, CPU', 's'],
    ['noop_rerun_npx_s', 'no-op re-run, npx ts-node flows/train.ts', 's'],
    ['noop_rerun_cold_cache_s', 'no-op re-run, empty compile cache', 's'],
    ['rss_node_mb', 'peak RSS, node -e 0', 'MB'],
    ['rss_1k_mb', 'peak RSS, 1,000-task flow (node -r register)', 'MB'],
    ['rss_1k_ts_node_mb', 'peak RSS, 1,000-task flow (ts-node)', 'MB'],
  ],
  scheduler: [
    ['fanin10k_s', 'fan-in 10,000', 's'],
    ['fanin10k_cpu_ms_per_task', 'fan-in 10,000 CPU per task', 'ms'],
    ['overhead_ms_per_task', 'scheduler overhead per task (10k)', 'ms'],
    ['noop10k_s', 'no-op re-run 10,000', 's'],
    ['fanin100k_s', 'fan-in 100,000', 's'],
    ['peak_rss_mb', 'peak RSS after fan-in 10,000 (in process)', 'MB'],
    ['peak_rss_100k_mb', 'peak RSS after fan-in 100,000', 'MB'],
  ],
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function main(): void {
  const others = [...options('--node'), ...(process.env.BENCH_NODES ?? '').split(':').filter(Boolean)];
  if (others.length === 0) {
    console.error('usage: bench/node-versions.ts --node PATH [--node PATH]... [--rounds N] [--repeat N]  (or BENCH_NODES=PATH[:PATH]); e.g. --node "$(bash .ci/node-version 24)/node"');
    process.exit(2);
  }
  for (const node of others) {
    if (!existsSync(node)) {
      console.error(`no node binary at ${node}: install one with \`bash .ci/node-version 24\` (prints its folder)`);
      process.exit(2);
    }
  }
  const nodes = [process.execPath, ...others];
  const rounds = options('--rounds')[0] ?? '5';
  const repeat = Number(options('--repeat')[0] ?? 1);
  const versions = nodes.map((node) => spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim());
  const work = mkdtempSync(join(tmpdir(), 'dagwright-bench-node-versions-'));
  const store = join(work, 'store');
  try {
    // One store, complete for the start-up bench's settings, shared by every version (outputs do not depend on the node).
    console.log(`making ${store} complete (flows/train.ts --increment 1 --epochs 1, in process, on ${versions[0]})`);
    const made = spawnSync(process.execPath, ['-r', register, 'flows/train.ts', '--increment', '1', '--epochs', '1', '--executor', 'inprocess', '--store', store], { cwd: root, encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`making the store failed:\n${made.stderr.slice(-2000)}`);

    const runs = versions.map(() => ({ startup: [] as Figures[], scheduler: [] as Figures[], load: { startup: [] as number[][], scheduler: [] as number[][] } }));
    for (let r = 0; r < repeat; r++) {
      for (const [bench, script, args] of [
        ['startup', 'bench/startup.ts', ['--rounds', rounds, '--store', store]],
        ['scheduler', 'bench/scheduler.ts', []],
      ] as const) {
        nodes.forEach((node, i) => {
          console.log(`== ${bench} on node ${versions[i]} (load ${loadavg().map((x) => x.toFixed(2)).join(' ')})`);
          const { figures, load } = benchUnder(node, script, args);
          runs[i]![bench].push(figures);
          runs[i]!.load[bench].push(load);
        });
      }
    }

    const summary: Record<string, Record<string, number>> = {};
    console.log(`\n${'figure'.padEnd(54)}${versions.map((v) => v.padStart(12)).join('')}${versions.slice(1).map((v) => `${v}/${versions[0]}`.padStart(20)).join('')}`);
    for (const bench of ['startup', 'scheduler'] as const) {
      for (const [key, label, unit] of compared[bench]) {
        const values = runs.map((run) => median(run[bench].map((f) => Number(f[key]))));
        summary[key] = Object.fromEntries(values.map((v, i) => [versions[i]!, v]));
        const ratios = values.slice(1).map((v) => `${(v / values[0]!).toFixed(2)}x`.padStart(20));
        console.log(`${`${label} (${unit})`.padEnd(54)}${values.map((v) => v.toFixed(3).padStart(12)).join('')}${ratios.join('')}`);
      }
    }
    for (const [i, v] of versions.entries()) {
      console.log(`load average at the start of each bench on ${v}: startup ${runs[i]!.load.startup.map((l) => l.join(' ')).join(' | ')}; scheduler ${runs[i]!.load.scheduler.map((l) => l.join(' ')).join(' | ')}`);
    }
    console.log(
      JSON.stringify({
        bench: 'node-versions',
        nodes: versions,
        settings: `bench:startup --rounds ${rounds}; bench:scheduler; medians of ${repeat}`,
        figures: summary,
        ratios_to_first: Object.fromEntries(Object.entries(summary).map(([k, byVersion]) => [k, Object.fromEntries(versions.slice(1).map((v) => [v, Number((byVersion[v]! / byVersion[versions[0]!]!).toFixed(3))]))])),
        load: Object.fromEntries(versions.map((v, i) => [v, runs[i]!.load])),
      }),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
