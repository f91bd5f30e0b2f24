/**
 * The promotion commands of `dagwright registry`: the contract (show, set),
 * the champion's history with why each move happened or did not, and moving
 * `champion` by hand through the same decision every registration makes.
 */
import { readFile } from 'node:fs/promises';
import type { AliasDecision, ModelRegistry } from '../../tasks/registry/registry';
import { RegistryError } from '../../tasks/registry/registry';
import { contractHistory, currentContract, declareContract, type PromotionContract } from '../../tasks/registry/promotion-contract';
import type { PromotionEvidence } from '../../tasks/registry/promotion-evidence';
import { promoteVersion } from '../../tasks/registry/promotion';
import { imageSourceScorer } from '../../tasks/drift/source-scorer';

type Write = (text: string) => void;

/** `registry contract` / `registry contract set <file.json>` */
export async function contractCommand(registry: ModelRegistry, args: readonly string[], out: Write, usageError: (m: string) => Error): Promise<number> {
  if (args.length === 0 || (args.length === 1 && args[0] === 'show')) {
    const contract = await currentContract(registry);
    out(contract ? `${JSON.stringify(contract, null, 2)}\n` : `model "${registry.model}" has no promotion contract: each path decides champion by its own rule (register: stored test accuracy; retraining: re-scored mean accuracy; by hand: not scored).\n`);
    return 0;
  }
  if (args[0] !== 'set' || args.length !== 2) throw usageError('contract takes "show" or "set <file.json>".');
  let text: string;
  try {
    text = await readFile(args[1], 'utf8');
  } catch (e) {
    throw usageError(`cannot read the contract file ${args[1]} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`);
  }
  let spec: unknown;
  try {
    spec = JSON.parse(text);
  } catch (e) {
    throw new RegistryError(`promotion contract ${args[1]} is not JSON: ${(e as Error).message}.`, 'invalid');
  }
  const contract = await declareContract(registry, spec);
  out(`promotion contract version ${contract.version} of "${registry.model}" declared\n`);
  return 0;
}

const pct = (x: number | undefined) => (typeof x === 'number' && Number.isFinite(x) ? `${(x * 100).toFixed(2)}%` : '-');

function evidenceLines(e: PromotionEvidence): string[] {
  const lines = [`    rule: ${e.rule}${e.contractVersion !== null ? ` (contract v${e.contractVersion})` : ''}, metric ${e.metric}` + (e.margin !== null ? `, margin ${pct(e.margin)}` : '') + (e.minMargin !== null ? ` (min ${pct(e.minMargin)})` : '')];
  const sources = Object.keys(e.candidate?.sources ?? {});
  for (const s of sources) {
    const rail = e.guardRails.find((g) => g.source === s);
    lines.push(`    ${s}: candidate v${e.candidate!.version} ${pct(e.candidate!.sources[s])}` + (e.champion ? `, champion v${e.champion.version} ${pct(e.champion.sources[s])}` : '') + ` (${e.candidate!.counts[s]} images)` + (rail ? `, guard rail ${rail.held ? 'held' : 'BROKEN'} (limit ${rail.maxDropPoints} points)` : ''));
  }
  return lines;
}

type Entry = { at: string; text: string[] };

const decisionEntry = (d: AliasDecision): Entry => ({
  at: d.at,
  text: [
    `${d.at.slice(0, 19).replace('T', ' ')}  ${d.alias}: ${d.promoted ? `${d.holder ?? '(none)'} -> ${d.version}` : `stays ${d.holder} (version ${d.version} refused)`}`,
    `    why: ${d.reason ?? '(recorded before reasons were kept)'}${d.evidence?.rule === 'no-contract:by-hand' ? ' (no promotion contract declared: not scored)' : ''}`, ...(d.evidence ? evidenceLines(d.evidence) : [])],
});

const contractEntry = (c: PromotionContract): Entry => ({
  at: c.declaredAt,
  text: [`${c.declaredAt.slice(0, 19).replace('T', ' ')}  contract v${c.version} declared: ${c.metric}, min margin ${pct(c.minMargin)}, ${c.sources.map((s) => `${s.source} x${s.weight}${s.maxDropPoints !== undefined ? ` (max drop ${s.maxDropPoints})` : ''}`).join(', ')}${c.reason ? ` (${c.reason})` : ''}`],
});

/** `registry history [--json]`: every alias decision and contract change, oldest first. */
export async function historyCommand(registry: ModelRegistry, json: boolean, out: Write): Promise<number> {
  const [decisions, history, contracts] = await Promise.all([registry.aliasDecisions(), registry.aliasHistory(), contractHistory(registry)]);
  if (json) {
    out(`${JSON.stringify({ model: registry.model, decisions, aliasChanges: history, contracts }, null, 2)}\n`);
    return 0;
  }
  // Moves made before decisions were recorded appear only in the history.
  const undecided = history.filter((h) => !decisions.some((d) => d.alias === h.alias && d.version === h.version && d.promoted));
  const entries = [
    ...decisions.map(decisionEntry),
    ...undecided.map((h): Entry => ({ at: h.at, text: [`${h.at.slice(0, 19).replace('T', ' ')}  ${h.alias}: ${h.previous ?? '(none)'} -> ${h.version}`, `    why: ${h.reason}`] })),
    ...contracts.map(contractEntry),
  ].sort((a, b) => a.at.localeCompare(b.at));
  out(entries.length === 0 ? `model "${registry.model}" has no alias history\n` : `${entries.flatMap((e) => e.text).join('\n')}\n`);
  return 0;
}

/** `registry alias champion <version> [--force]`: the contract decides, as for a registration. */
export async function promoteCommand(registry: ModelRegistry, version: number, force: boolean, out: Write, err: Write): Promise<number> {
  const before = (await registry.aliases()).champion ?? null;
  const { verdict, moved } = await promoteVersion(registry, version, { scorer: imageSourceScorer(), force });
  if (!moved) {
    err(`error: champion stays at version ${before}: ${verdict.reason}. Add --force to move it anyway (recorded).\n`);
    return 1;
  }
  out(`champion: ${before ?? '(none)'} -> ${version}\n`);
  if (verdict.evidence.rule === 'no-contract:by-hand') err(`note: ${verdict.reason}\n`);
  else out(`  why: ${verdict.reason}\n`);
  return 0;
}
