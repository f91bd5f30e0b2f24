import { errorRetryable, UsageError } from './errors';

/**
 * When a failed attempt is tried again, as data (Temporal's way): the waits
 * before each retry (their count is the number of retries), a jitter factor,
 * and a predicate deciding from the error whether another attempt may help.
 */
export interface RetryPolicy {
  /** Wait before retry 1, 2, ...; `[]` means no retry. */
  readonly delaysMs: readonly number[];
  /** 0 to 1: each wait is scaled by a random factor in [1 - jitter, 1 + jitter], so many failing tasks do not retry in step; default 0. */
  readonly jitter?: number;
  /**
   * Whether to retry after `error` (the attempt that failed is `attempt`).
   * Default: the error's own `retryable` property when it has one, else true;
   * a user's error class opts out with `readonly retryable = false`.
   */
  readonly retryIf?: (error: Error, attempt: number) => boolean;
}

/** Ready-made policies. */
export const retry = {
  /** `retries` waits of `firstMs`, doubling (or multiplied by `factor`) each time. */
  exponential(retries: number, firstMs = 1000, factor = 2, extra: Omit<RetryPolicy, 'delaysMs'> = {}): RetryPolicy {
    return { ...extra, delaysMs: Array.from({ length: retries }, (_, i) => firstMs * factor ** i) };
  },
  /** `retries` waits of `ms` each. */
  fixed(retries: number, ms: number, extra: Omit<RetryPolicy, 'delaysMs'> = {}): RetryPolicy {
    return { ...extra, delaysMs: Array.from({ length: retries }, () => ms) };
  },
  none: { delaysMs: [] } as RetryPolicy,
};

interface RetrySettings {
  readonly id?: string;
  readonly retryPolicy?: RetryPolicy;
  readonly retries?: number;
  readonly retryDelayMs?: number;
}

/** A task that sets both `retryPolicy` and `retries`/`retryDelayMs`: one would silently win, so the run refuses it before anything runs. */
export class ConflictingRetrySettingsError extends UsageError {
  constructor(readonly taskId: string) {
    super(
      `${taskId}: sets both retryPolicy and retries/retryDelayMs; keep one. ` +
        'retryPolicy says it all (retry.exponential(retries, retryDelayMs) is what retries and retryDelayMs mean).',
    );
  }
}

/** Throws `ConflictingRetrySettingsError` when a task sets both ways of retrying. */
export function checkRetrySettings(task: RetrySettings): void {
  if (task.retryPolicy !== undefined && (task.retries !== undefined || task.retryDelayMs !== undefined)) throw new ConflictingRetrySettingsError(task.id ?? 'a task');
}

/** A task's policy: its `retryPolicy`, or the one its `retries` and `retryDelayMs` describe (setting both is refused). */
export function policyOf(task: RetrySettings): RetryPolicy {
  checkRetrySettings(task);
  if (task.retryPolicy) return task.retryPolicy;
  return task.retries ? retry.exponential(task.retries, task.retryDelayMs ?? 1000) : retry.none;
}

/** The wait before the next attempt after `attempt` failed with `error`, or undefined: do not retry. */
export function nextRetryDelay(policy: RetryPolicy, attempt: number, error: Error, random: () => number = Math.random): number | undefined {
  if (attempt > policy.delaysMs.length) return undefined;
  const allowed = policy.retryIf ? policy.retryIf(error, attempt) : errorRetryable(error);
  if (!allowed) return undefined;
  const base = policy.delaysMs[attempt - 1];
  const jitter = Math.min(1, Math.max(0, policy.jitter ?? 0));
  return jitter === 0 ? base : Math.round(base * (1 - jitter + 2 * jitter * random()));
}
