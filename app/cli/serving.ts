/**
 * `dagwright serving history`: what a model's servers did, from the store
 * (tasks/serving/serving-history.ts): deployments and swaps, then one line a
 * minute per server (requests, errors, p50/p95 latency bound, version).
 *
 *   npx dagwright serving history [--store ./data] [--model mnist-digits] [--json]
 */
import { UsageError } from '../../src/errors';
import { DEFAULT_MODEL_NAME } from '../../tasks/registry/registry';
import { readServingHistory, type ServingMinute } from '../../tasks/serving/serving-history';
import { type CommandIo, commandStore, parseCommandArgs, runAsScript, storeHelp } from './command';

const usage = `usage: dagwright serving history [options]

  the serving history of a model: deployments and swaps (time, version, where, why) and one record a minute
  per server (requests, errors by status, latency, predicted classes, batch sizes)

options:
  ${storeHelp}
  --model <name>         the served model (default: ${DEFAULT_MODEL_NAME})
  --json                 print the records and events as JSON
  --help                 show this help
`;

/** The smallest latency bound holding at least `q` of the minute's requests (the histogram is cumulative). */
function quantileBound(m: ServingMinute, q: number): string {
  const total = m.latency['+Inf'] ?? 0;
  if (total === 0) return '-';
  const bounds = Object.entries(m.latency).filter(([k]) => k !== '+Inf').sort((a, b) => Number(a[0]) - Number(b[0]));
  const hit = bounds.find(([, n]) => n >= q * total);
  return hit ? `<=${Number(hit[0]) * 1000}ms` : '>2.5s';
}

export async function servingHistoryCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { store: { type: 'string' }, model: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } }, usage);
  if (values.help) {
    io.out(usage);
    return 0;
  }
  if (positionals.length > 0 && !(positionals.length === 1 && positionals[0] === 'history')) throw new UsageError(`unknown command "${positionals.join(' ')}"; expected history.\n${usage}`);
  const model = (values.model as string | undefined) ?? DEFAULT_MODEL_NAME;
  const history = await readServingHistory(commandStore(values.store as string | undefined), model);
  if (values.json) {
    io.out(`${JSON.stringify({ model, ...history }, null, 2)}\n`);
    return 0;
  }
  const lines = ['events:', ...history.events.map((e) => `  ${e.at.slice(0, 19).replace('T', ' ')}  ${e.kind.padEnd(5)}  v${e.version ?? '-'}  ${e.where}  ${e.why}`)];
  lines.push('minutes:', '  minute            version  requests  errors  p50        p95        instance');
  for (const m of history.minutes) {
    const errors = Object.entries(m.statuses).filter(([s]) => Number(s) >= 400).reduce((a, [, n]) => a + n, 0);
    lines.push(`  ${m.minute.slice(0, 16).replace('T', ' ')}  ${String(m.version ?? '-').padStart(7)}  ${String(m.requests).padStart(8)}  ${String(errors).padStart(6)}  ${quantileBound(m, 0.5).padEnd(9)}  ${quantileBound(m, 0.95).padEnd(9)}  ${m.instance}`);
  }
  io.out(`${lines.join('\n')}\n`);
  return 0;
}

if (require.main === module) runAsScript((argv) => servingHistoryCommand(argv, { out: (t) => process.stdout.write(t) }));
