/**
 * Drift monitoring: checks the newest window of the model server's
 * prediction log (or a data source) against the serving version's
 * reference, writes the report (<store>/monitoring/<model>/reports/,
 * latest.json), and when the window drifts records an event and starts
 * retraining once (cooldown; one retraining per window however many
 * monitors see it), registering the new model; `champion` moves only if it
 * is better on a test set covering both sources, and the server, watching
 * the alias, swaps to it.
 *
 *   npx ts-node flows/monitor.ts --store ./data --last 500                 # once (cron)
 *   npx ts-node flows/monitor.ts --store ./data --schedule "*\/10 * * * *"  # every 10 minutes
 *   npx ts-node flows/monitor.ts --source optdigits --size 200 --retrain false
 */
import { Cron } from 'croner';
import { type FlowDefinition, runFlow } from '../src';
import { MonitorDrift, monitorParams } from '../tasks/mnist/monitor-task';

const { store: _store, until: _until, ...flowParams } = monitorParams;

export const monitorFlow = {
  name: 'drift-monitor',
  description:
    'Checks the newest prediction-log window (or --source) for drift against the model version\'s reference: KS on class probabilities ' +
    '(Bonferroni) and on entropy, chi-squared on predicted classes, MMD on embeddings, Evidently\'s image-statistics rule; writes the report and ' +
    'latest.json; on drift records an event and retrains once (cooldown, de-duplicated by window), then registers the new model.',
  params: flowParams,
  // The window ends now: each invocation checks the records logged up to the moment it starts.
  roots: (params, { store }) => new MonitorDrift({ ...params, store, until: params.source ? '' : new Date().toISOString() }),
} satisfies FlowDefinition<typeof flowParams>;

/**
 * `--schedule CRON`: each tick runs the flow anew, so each checks the window
 * up to its own start. (The flow runner's own --schedule makes the roots once,
 * which would check the first window again and again.) A tick that finds the
 * previous one still running is skipped; SIGINT/SIGTERM stop the schedule.
 */
async function runScheduled(pattern: string, argv: string[]): Promise<number> {
  let job: Cron;
  try {
    job = new Cron(pattern, { protect: true }, async () => {
      await runFlow(monitorFlow, { argv, exit: false });
    });
  } catch (err) {
    process.stderr.write(`--schedule got "${pattern}": ${(err as Error).message}. Expected a cron pattern such as "*/10 * * * *".\n`);
    return 2;
  }
  process.stderr.write(`drift monitor on schedule "${pattern}"; next run ${job.nextRun()?.toISOString()}; SIGINT or SIGTERM stops\n`);
  return new Promise<number>((resolve) => {
    const stop = (code: number) => () => {
      job.stop();
      resolve(code);
    };
    process.once('SIGINT', stop(130));
    process.once('SIGTERM', stop(143));
  });
}

function scheduleOption(argv: string[]): { pattern: string; rest: string[] } | undefined {
  const i = argv.findIndex((a) => a === '--schedule' || a.startsWith('--schedule='));
  if (i < 0) return undefined;
  const pattern = argv[i].includes('=') ? argv[i].slice('--schedule='.length) : argv[i + 1];
  return { pattern: pattern ?? '', rest: [...argv.slice(0, i), ...argv.slice(i + (argv[i].includes('=') ? 1 : 2))] };
}

if (require.main === module) {
  const scheduled = scheduleOption(process.argv.slice(2));
  if (scheduled) void runScheduled(scheduled.pattern, scheduled.rest).then((code) => process.exit(code));
  else void runFlow(monitorFlow);
}
