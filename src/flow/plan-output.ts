import type { AnyTask } from '../task';
import { planRun, reasonToRun } from '../plan';
import { rerunMatcher } from '../run';

/**
 * `--graph` and `--dry-run`: plans lazily (as a run would: only incomplete
 * tasks are expanded) and prints the DOT graph or what would run and why.
 * Returns stdout's text.
 */
export async function planOutput(roots: readonly AnyTask[], mode: 'graph' | 'dry-run', rerun: readonly string[]): Promise<string> {
  const plan = await planRun(roots, { concurrency: 64, rerun: rerunMatcher(rerun) });
  if (mode === 'graph') {
    const toRun = new Set(plan.toRun);
    return plan.graph.toDot((id) => (plan.complete.has(id) ? 'complete' : toRun.has(id) ? 'run' : undefined));
  }
  const out = [`dry run: ${plan.toRun.length} task(s) would run, ${plan.complete.size} already complete`];
  for (const id of plan.toRun) out.push(`  would run ${id}: ${await reasonToRun(plan, id)}`);
  for (const id of plan.complete) out.push(`  complete  ${id}`);
  return `${out.join('\n')}\n`;
}
