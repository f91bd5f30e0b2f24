/**
 * The one champion decision. Every path that can move `champion` (the
 * register flow, drift retraining, `dagwright registry alias champion`, user
 * code through `promoteVersion`) calls `decidePromotion`: under the model's
 * promotion contract it scores the candidate and the champion now, on the
 * same images, and promotes only when the weighted score beats the
 * champion's by the contract's margin and no source falls through its guard
 * rail. Both scores per source, the margin and the contract version go into
 * the alias history. Without a contract each path keeps the rule it had
 * before contracts existed, and the verdict says so.
 */
import { type ModelRegistry, type ModelVersion, type RegisterRequest } from './registry';
import { CONTRACT_ALIAS, currentContract, type PromotionContract, type PromotionContractSpec } from './promotion-contract';
import type { GuardRailResult, PromotionEvidence, PromotionVerdict, ScoredSide } from './promotion-evidence';

export type { PromotionEvidence, PromotionVerdict } from './promotion-evidence';

/** A version's quality on one source. */
export interface SourceMetrics {
  readonly count: number;
  readonly accuracy: number;
  readonly macroF1: number;
}

/** Scores registered versions on named data sources (the same images for every version it is asked about). */
export interface VersionScorer {
  score(registry: ModelRegistry, version: ModelVersion, sources: readonly string[]): Promise<Readonly<Record<string, SourceMetrics>>>;
}

/** The rule a path used before contracts existed; it decides only while no contract is declared. */
export type LegacyRule =
  | { readonly kind: 'stored-test-accuracy' }
  | { readonly kind: 'rescored-mean-accuracy'; readonly sources: readonly string[] }
  | { readonly kind: 'by-hand' };

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

function side(version: number, spec: PromotionContractSpec, scores: Readonly<Record<string, SourceMetrics>>): ScoredSide {
  const value = (s: string) => (spec.metric === 'accuracy' ? scores[s].accuracy : scores[s].macroF1);
  const total = spec.sources.reduce((a, s) => a + s.weight, 0);
  return {
    version,
    score: spec.sources.reduce((a, s) => a + s.weight * value(s.source), 0) / total,
    sources: Object.fromEntries(spec.sources.map((s) => [s.source, value(s.source)])),
    counts: Object.fromEntries(spec.sources.map((s) => [s.source, scores[s.source].count])),
  };
}

/** The verdict under a contract (or an implicit one standing in for a legacy rule), given both sides' scores. Pure. */
export function judge(spec: PromotionContractSpec, rule: PromotionEvidence['rule'], contractVersion: number | null, candidate: ScoredSide, champion: ScoredSide | null): PromotionVerdict {
  const base = { rule, contractVersion, metric: spec.metric, candidate, champion, minMargin: spec.minMargin };
  const under = contractVersion === null ? `no promotion contract declared (today's rule: mean accuracy on ${spec.sources.map((s) => s.source).join(', ')}, re-scored)` : `contract v${contractVersion}`;
  if (!champion) return { promoted: true, reason: `first version under "${CONTRACT_ALIAS}" (${under}: ${spec.metric} ${pct(candidate.score)})`, evidence: { ...base, margin: null, guardRails: [] } };
  const margin = candidate.score - champion.score;
  const guardRails: GuardRailResult[] = spec.sources
    .filter((s) => s.maxDropPoints !== undefined)
    .map((s) => {
      const dropPoints = (champion.sources[s.source] - candidate.sources[s.source]) * 100;
      return { source: s.source, candidate: candidate.sources[s.source], champion: champion.sources[s.source], dropPoints, maxDropPoints: s.maxDropPoints!, held: dropPoints <= s.maxDropPoints! };
    });
  const broken = guardRails.filter((g) => !g.held);
  const perSource = spec.sources.map((s) => `${s.source} ${pct(candidate.sources[s.source])} vs ${pct(champion.sources[s.source])}`).join(', ');
  const scores = `${spec.metric} ${pct(candidate.score)} vs ${pct(champion.score)} (${perSource})`;
  const evidence = { ...base, margin, guardRails };
  if (broken.length > 0) {
    const why = broken.map((g) => `${g.source} falls ${g.dropPoints.toFixed(2)} points (limit ${g.maxDropPoints})`).join('; ');
    return { promoted: false, reason: `version ${candidate.version} stays below version ${champion.version} under ${under}: guard rail broken: ${why}; ${scores}`, evidence };
  }
  if (!(margin > 0 && margin >= spec.minMargin)) {
    return { promoted: false, reason: `version ${candidate.version} does not beat version ${champion.version} by the margin ${pct(spec.minMargin)} under ${under}: ${scores}`, evidence };
  }
  return { promoted: true, reason: `version ${candidate.version} beats version ${champion.version} by ${pct(margin)} under ${under}: ${scores}`, evidence };
}

async function scoredPair(registry: ModelRegistry, scorer: VersionScorer, spec: PromotionContractSpec, candidate: ModelVersion, holder: ModelVersion | undefined) {
  const sources = spec.sources.map((s) => s.source);
  const c = side(candidate.version, spec, await scorer.score(registry, candidate, sources));
  const h = holder ? side(holder.version, spec, await scorer.score(registry, holder, sources)) : null;
  return { c, h };
}

function storedTestAccuracy(candidate: ModelVersion, holder: ModelVersion | undefined): PromotionVerdict {
  const stored = (v: ModelVersion): ScoredSide => ({ version: v.version, score: v.metrics.testAccuracy as number, sources: {}, counts: {} });
  const c = stored(candidate);
  const h = holder ? stored(holder) : null;
  const promoted = !h || c.score > h.score;
  const evidence: PromotionEvidence = { rule: 'no-contract:stored-test-accuracy', contractVersion: null, metric: 'testAccuracy (stored)', candidate: c, champion: h, margin: h ? c.score - h.score : null, minMargin: null, guardRails: [] };
  const head = "no promotion contract declared (today's rule: stored MNIST test accuracy alone)";
  const reason = !h
    ? `first version under "${CONTRACT_ALIAS}" (${head})`
    : `version ${c.version} ${promoted ? 'beats' : 'does not beat'} version ${h.version}: ${pct(c.score)} vs ${pct(h.score)}, ${head}`;
  return { promoted, reason, evidence };
}

/**
 * The champion decision for `candidate` against the version holding
 * `champion` now (`holder`). Reads the contract in force at decision time.
 */
export async function decidePromotion(
  registry: ModelRegistry,
  candidate: ModelVersion,
  holder: ModelVersion | undefined,
  options: { scorer: VersionScorer; legacy: LegacyRule; contract?: PromotionContract | null },
): Promise<PromotionVerdict> {
  const contract = options.contract === undefined ? await currentContract(registry) : options.contract;
  if (contract) {
    const { c, h } = await scoredPair(registry, options.scorer, contract, candidate, holder);
    return judge(contract, 'contract', contract.version, c, h);
  }
  const { legacy } = options;
  if (legacy.kind === 'stored-test-accuracy') return storedTestAccuracy(candidate, holder);
  if (legacy.kind === 'rescored-mean-accuracy') {
    const implicit: PromotionContractSpec = { sources: legacy.sources.map((source) => ({ source, weight: 1 })), metric: 'accuracy', minMargin: 0 };
    const { c, h } = await scoredPair(registry, options.scorer, implicit, candidate, holder);
    return judge(implicit, 'no-contract:rescored-mean-accuracy', null, c, h);
  }
  const evidence: PromotionEvidence = { rule: 'no-contract:by-hand', contractVersion: null, metric: 'none', candidate: null, champion: null, margin: null, minMargin: null, guardRails: [] };
  return { promoted: true, reason: 'moved by hand; no promotion contract declared, so nothing was scored (today\'s behaviour)', evidence };
}

/** The `promote` option of `ModelRegistry.register` that decides `champion` through `decidePromotion`. */
export function championPromotion(registry: ModelRegistry, scorer: VersionScorer, legacy: LegacyRule): NonNullable<RegisterRequest['promote']> {
  return { alias: CONTRACT_ALIAS, decide: (candidate, holder) => decidePromotion(registry, candidate, holder, { scorer, legacy }) };
}

export interface PromoteResult {
  readonly verdict: PromotionVerdict;
  /** Whether champion now points at the version. */
  readonly moved: boolean;
}

/**
 * Asks to make `version` champion outside a registration (the registry CLI,
 * the UI, user code). Decided like a registration; with `force` it moves
 * even against the contract, and the history says it was forced. Either way
 * the decision is recorded.
 */
export async function promoteVersion(registry: ModelRegistry, version: number, options: { scorer: VersionScorer; force?: boolean; by?: string }): Promise<PromoteResult> {
  const candidate = await registry.version(version);
  const aliases = await registry.aliases();
  const holder = CONTRACT_ALIAS in aliases ? await registry.version(aliases[CONTRACT_ALIAS]) : undefined;
  if (holder?.version === version) {
    return { moved: true, verdict: { promoted: true, reason: `version ${version} already holds "${CONTRACT_ALIAS}"`, evidence: { rule: 'no-contract:by-hand', contractVersion: null, metric: 'none', candidate: null, champion: null, margin: null, minMargin: null, guardRails: [] } } };
  }
  const verdict = await decidePromotion(registry, candidate, holder, { scorer: options.scorer, legacy: { kind: 'by-hand' } });
  const by = options.by ?? 'by hand';
  if (verdict.promoted) {
    // Without a contract the history reads as it always did; the evidence's rule says nothing was scored.
    await registry.setAlias(CONTRACT_ALIAS, version, verdict.evidence.rule === 'no-contract:by-hand' ? (by === 'by hand' ? 'moved by hand' : by) : `${by}: ${verdict.reason}`, { verdict });
    return { verdict, moved: true };
  }
  if (options.force) {
    const forced: PromotionVerdict = { ...verdict, promoted: true, reason: `forced ${by} against the contract: ${verdict.reason}`, evidence: { ...verdict.evidence, rule: 'forced' } };
    await registry.setAlias(CONTRACT_ALIAS, version, forced.reason, { verdict: forced, force: true });
    return { verdict: forced, moved: true };
  }
  await registry.recordDecision(CONTRACT_ALIAS, version, holder?.version ?? null, { ...verdict, reason: `${by}: ${verdict.reason}` });
  return { verdict, moved: false };
}
