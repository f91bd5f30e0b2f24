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
import { type FlowDefinition, runFlow } from '../src';
import { MonitorDrift, monitorParams } from '../tasks/drift/monitor-task';

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

if (require.main === module) void runFlow(monitorFlow);
