/**
 * Scheduler overhead with trivial tasks that each write a tiny local file:
 * a fan-in of N leaves into one root (N = 1,000, 5,000, 10,000 and, last,
 * 100,000), a chain of 1,000, a second run of the finished 10,000 fan-in
 * (nothing to do), a lazy chain of 10,000 days whose oldest 9,000 are
 * complete (only 1,000 expand and run), and a fan-out of 1,000 limited by a
 * pool of 4. Times scheduling and running inside this process; start-up is
 * reported apart. A reference loop does the same file writes with no
 * scheduler, so the scheduler's own cost per task shows apart from the
 * disk's; the 5,000 fan-in is set against Luigi's time for its twin on this
 * machine (113 s, ../shared/bench/luigi; BENCH_LUIGI_5K_S=<seconds> to use a
 * fresh figure). The last line is JSON, with the Node.js version it ran on
 * (bench/node-versions.ts runs it under several).
 *
 *   npm run bench:scheduler
 */
import { mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/public/runtime';
import { LocalTarget, param, run, type RunOptions, Task } from '../src';

const startupMs = process.uptime() * 1000;
const logger = createLogger({ level: 'silent' });
const workers = 16;

class Leaf extends Task<{ dir: string; i: number }> {
  static override params = { dir: param.string(), i: param.int() };
  override output() {
    return new LocalTarget(join(this.params.dir, `leaf-${this.params.i}.txt`));
  }
  async run() {
    await this.output().writeText(`${this.params.i}\n`);
  }
}

class FanIn extends Task<{ dir: string; n: number }> {
  static override params = { dir: param.string(), n: param.int() };
  override requires() {
    return Array.from({ length: this.params.n }, (_, i) => new Leaf({ dir: this.params.dir, i }));
  }
  override output() {
    return new LocalTarget(join(this.params.dir, 'root.txt'));
  }
  async run() {
    await this.output().writeText('done\n');
  }
}

class Link extends Task<{ dir: string; i: number }> {
  static override params = { dir: param.string(), i: param.int() };
  override requires() {
    return this.params.i === 0 ? [] : [new Link({ dir: this.params.dir, i: this.params.i - 1 })];
  }
  override output() {
    return new LocalTarget(join(this.params.dir, `link-${this.params.i}.txt`));
  }
  async run() {
    await this.output().writeText(`${this.params.i}\n`);
  }
}

/** Every day requires the day before (Luigi's pattern); the oldest days of the bench are written beforehand. */
class Day extends Task<{ dir: string; n: number }> {
  static override params = { dir: param.string(), n: param.int({ min: 0 }) };
  override requires() {
    return this.params.n === 0 ? [] : [new Day({ dir: this.params.dir, n: this.params.n - 1 })];
  }
  override output() {
    return new LocalTarget(join(this.params.dir, `day-${this.params.n}.txt`));
  }
  async run() {
    await this.output().writeText(`${this.params.n}\n`);
  }
}

let inPool = 0;
let poolPeak = 0;
class Pooled extends Task<{ dir: string; i: number }> {
  static override params = { dir: param.string(), i: param.int() };
  override readonly pools = { slot: 1 };
  override output() {
    return new LocalTarget(join(this.params.dir, `pooled-${this.params.i}.txt`));
  }
  async run() {
    poolPeak = Math.max(poolPeak, ++inPool);
    try {
      await this.output().writeText(`${this.params.i}\n`);
    } finally {
      inPool--;
    }
  }
}

class FanOut extends Task<{ dir: string; n: number }> {
  static override params = { dir: param.string(), n: param.int() };
  override requires() {
    return Array.from({ length: this.params.n }, (_, i) => new Pooled({ dir: this.params.dir, i }));
  }
  override output() {
    return new LocalTarget(join(this.params.dir, 'fan-out.txt'));
  }
  async run() {
    await this.output().writeText('done\n');
  }
}

async function timed(label: string, tasks: number, root: Task, expectRan: number, options: Omit<RunOptions, 'logger' | 'workers'> = {}): Promise<number> {
  const started = performance.now();
  const summary = await run(root, { logger, workers, ...options });
  const seconds = (performance.now() - started) / 1000;
  const ran = summary.tasks.filter((t) => t.status === 'ran').length;
  if (!summary.ok || ran !== expectRan) throw new Error(`${label}: expected ${expectRan} tasks to run, ${ran} ran (ok=${summary.ok})`);
  console.log(`${label.padEnd(22)} ${seconds.toFixed(3)} s  ${((seconds * 1000) / tasks).toFixed(3)} ms/task  (${ran} ran)`);
  return seconds;
}

/** The disk work of the 10,000 fan-in with no scheduler: write a temporary file, rename it, stat it, one by one. */
function rawIo(dir: string, files: number): number {
  mkdirSync(dir, { recursive: true });
  const started = performance.now();
  for (let i = 0; i < files; i++) {
    const path = join(dir, `leaf-${i}.txt`);
    writeFileSync(`${path}.tmp`, `${i}\n`, { flag: 'wx' });
    renameSync(`${path}.tmp`, path);
    statSync(path);
  }
  return (performance.now() - started) / 1000;
}

async function main() {
  const base = await mkdtemp(join(tmpdir(), 'dagwright-bench-'));
  try {
    console.log(`node ${process.version}; process start-up (node + ts-node + imports): ${startupMs.toFixed(0)} ms, not counted below; workers ${workers}`);
    const fanin1k = await timed('fan-in 1,000', 1_001, new FanIn({ dir: join(base, 'f1k'), n: 1_000 }), 1_001);
    // CPU time beside wall time: on a machine shared with other work the wall clock mostly measures the wait for the disk.
    const cpuBefore = process.cpuUsage();
    const fanin10k = await timed('fan-in 10,000', 10_001, new FanIn({ dir: join(base, 'f10k'), n: 10_000 }), 10_001);
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMsPerTask = (cpu.user + cpu.system) / 1000 / 10_001;
    console.log(`fan-in 10,000 CPU: user ${(cpu.user / 1e6).toFixed(3)} s, system ${(cpu.system / 1e6).toFixed(3)} s (${cpuMsPerTask.toFixed(3)} ms/task)`);
    const chain1k = await timed('chain 1,000', 1_000, new Link({ dir: join(base, 'chain'), i: 999 }), 1_000);
    const noop10k = await timed('no-op re-run 10,000', 10_001, new FanIn({ dir: join(base, 'f10k'), n: 10_000 }), 0);
    const fanin5k = await timed('fan-in 5,000', 5_001, new FanIn({ dir: join(base, 'f5k'), n: 5_000 }), 5_001);
    const lazyDir = join(base, 'lazy');
    mkdirSync(lazyDir, { recursive: true });
    for (let n = 0; n < 9_000; n++) writeFileSync(join(lazyDir, `day-${n}.txt`), `${n}\n`);
    const lazy10k = await timed('lazy chain 10,000', 1_000, new Day({ dir: lazyDir, n: 9_999 }), 1_000);
    const poolFanout = await timed('fan-out 1,000, pool 4', 1_001, new FanOut({ dir: join(base, 'pool'), n: 1_000 }), 1_001, { pools: { slot: 4 } });
    if (poolPeak > 4) throw new Error(`the pool of 4 ran ${poolPeak} tasks at once`);
    const raw10k = rawIo(join(base, 'raw'), 10_001);
    console.log(
      `reference: the same 10,001 file writes with no scheduler ${raw10k.toFixed(3)} s; ` +
        `scheduler overhead ${(((fanin10k - raw10k) * 1000) / 10_001).toFixed(3)} ms/task, fan-in 10,000 / reference ${(fanin10k / raw10k).toFixed(2)}x`,
    );
    const peakRssMb = process.resourceUsage().maxRSS / 1024;
    console.log(`peak RSS ${peakRssMb.toFixed(0)} MB; ms/task at 1k vs 10k: ${((fanin10k / 10_001) / (fanin1k / 1_001)).toFixed(2)}x`);
    const luigi5k = Number(process.env.BENCH_LUIGI_5K_S ?? 113);
    console.log(`fan-in 5,000: Luigi ${luigi5k} s / dagwright ${fanin5k.toFixed(3)} s = ${(luigi5k / fanin5k).toFixed(0)}x (budget: >= 200x)`);
    // Last: the largest run, so the process's peak RSS afterwards is its own.
    const fanin100k = await timed('fan-in 100,000', 100_001, new FanIn({ dir: join(base, 'f100k'), n: 100_000 }), 100_001);
    const peakRss100kMb = process.resourceUsage().maxRSS / 1024;
    const flat = fanin100k / 100_001 / (fanin10k / 10_001);
    console.log(`peak RSS after 100,000: ${peakRss100kMb.toFixed(0)} MB; ms/task at 100k vs 10k: ${flat.toFixed(2)}x`);
    console.log(
      JSON.stringify({
        bench: 'scheduler',
        node: process.version,
        fanin1k_s: +fanin1k.toFixed(3),
        fanin10k_s: +fanin10k.toFixed(3),
        fanin10k_cpu_ms_per_task: +cpuMsPerTask.toFixed(3),
        chain1k_s: +chain1k.toFixed(3),
        noop10k_s: +noop10k.toFixed(3),
        peak_rss_mb: Math.round(peakRssMb),
        raw_io10k_s: +raw10k.toFixed(3),
        fanin5k_s: +fanin5k.toFixed(3),
        luigi_fanin5k_s: luigi5k,
        vs_luigi_fanin5k_x: Math.round(luigi5k / fanin5k),
        lazy_chain10k_s: +lazy10k.toFixed(3),
        pool_fanout1k_s: +poolFanout.toFixed(3),
        pool_peak: poolPeak,
        fanin100k_s: +fanin100k.toFixed(3),
        peak_rss_100k_mb: Math.round(peakRss100kMb),
        ms_per_task_100k_vs_10k: +flat.toFixed(2),
        overhead_ms_per_task: +(((fanin10k - raw10k) * 1000) / 10_001).toFixed(3),
        startup_ms: Math.round(startupMs),
        workers,
      }),
    );
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

void main();
