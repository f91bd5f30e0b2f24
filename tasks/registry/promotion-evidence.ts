/**
 * Why `champion` moved or stayed: the evidence recorded with every alias
 * decision and alias change (tasks/registry/promotion.ts makes it). Kept in
 * aliases.json, so `dagwright registry history` and the UI can show both
 * versions' scores per source, the margin and the contract version.
 */

/** One version's side of a decision. */
export interface ScoredSide {
  readonly version: number;
  /** The contract score (weighted mean of `sources`), or the stored metric compared without a contract. */
  readonly score: number;
  /** Metric value per source, scored at decision time on the same images for both sides. */
  readonly sources: Readonly<Record<string, number>>;
  /** Images per source. */
  readonly counts: Readonly<Record<string, number>>;
}

export interface GuardRailResult {
  readonly source: string;
  readonly candidate: number;
  readonly champion: number;
  /** How far the candidate is below the champion, in percentage points (negative: above). */
  readonly dropPoints: number;
  readonly maxDropPoints: number;
  readonly held: boolean;
}

/**
 * Which rule decided: the declared contract, or (no contract declared) the
 * rule each path used before contracts existed, named so the history says so.
 */
export type PromotionRule = 'contract' | 'no-contract:stored-test-accuracy' | 'no-contract:rescored-mean-accuracy' | 'no-contract:by-hand' | 'forced';

export interface PromotionEvidence {
  readonly rule: PromotionRule;
  /** The contract version in force (null: none declared). */
  readonly contractVersion: number | null;
  readonly metric: string;
  readonly candidate: ScoredSide | null;
  readonly champion: ScoredSide | null;
  /** candidate.score - champion.score (null without a champion or without scores). */
  readonly margin: number | null;
  readonly minMargin: number | null;
  readonly guardRails: readonly GuardRailResult[];
}

export interface PromotionVerdict {
  readonly promoted: boolean;
  /** One line a person reads in the history. */
  readonly reason: string;
  readonly evidence: PromotionEvidence;
}
