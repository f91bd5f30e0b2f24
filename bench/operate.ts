/**
 * The simulated month as a benchmark (flows/operate.ts): runs it in a fresh
 * store (or --store), prints the day-by-day timeline, and ends with one JSON
 * line: bench "operate", days, wall_s and the issue's figures —
 * days_to_detect (shift start to the first drift or CBPE alert),
 * days_to_recover (shift start to the first day the served version scores
 * >= 95% on the shifted traffic, by the images' own labels),
 * routine_regressions (champion swaps whose contract score was lower than
 * the champion's), failed_requests, cbpe_mae_in_dist / cbpe_mae_shifted
 * (mean |CBPE estimate - realized accuracy on late labels| over the days'
 * MNIST / optdigits windows), false_alarm_days (days without shifted
 * traffic with a drift or CBPE alert).
 *
 *   npm run bench:operate                       # 30 days, the flow's defaults
 *   npm run bench:operate -- --days 8 --shift-day 4 --traffic 200
 *
 * Takes flows/operate.ts's options (--help lists them).
 *
 * With --chaos (flows/operate-chaos.ts): the month twice in this one
 * invocation, first without kills in this process (the reference), then
 * with the server, the routine register and monitor runs and the
 * retraining runs as processes SIGKILLed at moments drawn from --seed and
 * restarted as a supervisor and cron would. Its last line: bench
 * "operate-chaos", kills (and by part), lost_predictions (answered, never
 * logged, beyond a killed server's open chunk: must be 0),
 * open_chunk_predictions (the documented loss, sent again),
 * stuck_claims (0), decision_mismatches (champion decisions that differ
 * from the reference: 0), failed_requests (server up: 0) apart from
 * failed_requests_server_kills, days_to_recover of both months.
 *
 *   npm run bench:operate -- --chaos                          # 6 days, shift on day 3, seed 1 (several minutes)
 *   npm run bench:operate -- --chaos --seed 7 --kill-rate 0.6
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/public/runtime';
import { type OperateResult, parseOperateArgs, partsAt, runChaosMonth, runOperate, SHIFTED, IN_DIST, type OperateCommand } from '../flows/operate';

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '   –  ' : `${(x * 100).toFixed(1).padStart(5)}%`);
const round = (x: number | null) => (x === null ? null : Math.round(x * 10_000) / 10_000);

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const options = parseOperateArgs(argv.includes('--store') ? argv : [...argv, '--store', 'unused']);
  if (options === 'help') return void process.stdout.write('usage: npm run bench:operate -- [flows/operate.ts options]\n');
  const ownStore = !argv.includes('--store');
  const store = ownStore ? await mkdtemp(join(tmpdir(), 'dagwright-bench-operate-')) : options.store;
  const started = Date.now();
  try {
    if (options.chaos) return await chaosBench({ ...options, store }, started);
    const { server, chaos: _chaos, ...month } = options;
    const result = await runOperate({ ...month, store, logger: createLogger({ level: 'warn' }) }, partsAt(server));
    const wall = (Date.now() - started) / 1000;
    printTimeline(result);
    const f = result.figures;
    console.log(
      JSON.stringify({
        bench: 'operate',
        days: f.days,
        wall_s: Math.round(wall * 10) / 10,
        days_to_detect: f.days_to_detect,
        days_to_recover: f.days_to_recover,
        routine_regressions: f.routine_regressions,
        failed_requests: f.failed_requests,
        cbpe_mae_in_dist: round(f.cbpe_mae_in_dist),
        cbpe_mae_shifted: round(f.cbpe_mae_shifted),
        false_alarm_days: f.false_alarm_days,
        wall_s_per_day: Math.round((wall / f.days) * 10) / 10,
        settings: { ...options, store: undefined },
      }),
    );
  } finally {
    if (ownStore) await rm(store, { recursive: true, force: true });
  }
}

function printTimeline(result: OperateResult): void {
  console.log('day  shift  served        all: real / est / true       mnist: real / est / true     optdigits: real / est / true   drift  swaps');
  for (const d of result.timeline) {
    const cols = [d.overall, d.bySource[IN_DIST], d.bySource[SHIFTED]].map((a) => `${pct(a?.realized)} ${pct(a?.estimated)}${a?.estimatedAlert ? '!' : ' '} ${pct(a?.truth)}`);
    const served = Object.entries(d.servedVersions).map(([v, n]) => `v${v}x${n}`).join(' ');
    console.log(`${String(d.day).padStart(3)}  ${pct(d.shiftShare)}  ${served.padEnd(12)}  ${cols.join('   ')}   ${d.verdicts.some((v) => v.drift) ? 'DRIFT' : '  -  '}  ${d.swaps.map((s) => `v${s.from}->v${s.version}`).join(',')}`);
  }
  console.log(`timeline: ${result.files.json}; runs: ${JSON.stringify(result.runs)}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

/** The month without kills and under kills (see the module comment), then their comparison as one JSON line. */
async function chaosBench(options: OperateCommand, started: number): Promise<void> {
  const { chaos, server: _server, ...month } = options;
  // Through process.exit, so that the server and the run in progress (child processes) are killed too.
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) process.once(signal, () => process.exit(code));
  const result = await runChaosMonth({ ...month, logger: createLogger({ level: 'warn' }) }, chaos);
  const wall = (Date.now() - started) / 1000;
  console.log('the month without kills (reference):');
  printTimeline(result.reference);
  console.log('the month under kills:');
  printTimeline(result.chaos);
  for (const k of result.kills) console.log(`killed ${k.part.padEnd(8)} pid ${String(k.pid).padEnd(7)} ${String(k.afterMs).padStart(6)} ms into ${k.what}`);
  console.log(`champion decisions, reference: ${result.decisions.reference.join('; ')}`);
  console.log(`champion decisions, under kills: ${result.decisions.chaos.join('; ')}`);
  const f = result.figures;
  console.log(
    JSON.stringify({
      bench: 'operate-chaos',
      days: result.chaos.figures.days,
      wall_s: Math.round(wall * 10) / 10,
      ...f,
      recovered: f.days_to_recover !== null,
      load_average: loadavg().map((l) => Math.round(l * 100) / 100),
      settings: { ...month, store: undefined, chaos },
    }),
  );
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
