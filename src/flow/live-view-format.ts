/**
 * Text for the live view's status block: running tasks with elapsed time and
 * progress, and the counts. Pure functions of their input and the time, so
 * they are easy to test.
 */
import { shortTaskId } from '../logger';

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return ms < 10_000 ? `${(Math.max(0, ms) / 1000).toFixed(1)}s` : `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** `[█████░░░░░] 50%` */
export function progressBar(fraction: number, width = 14): string {
  const f = Math.min(1, Math.max(0, fraction));
  const full = Math.round(f * width);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}] ${String(Math.floor(f * 100)).padStart(3)}%`;
}

/** A running task as the live view knows it. */
export interface RunningTask {
  readonly taskId: string;
  readonly startedAt: number;
  readonly attempt: number;
  /** From `ctx.progress`: how far, how much, and the rate measured since the first report. */
  readonly progress?: { readonly done: number; readonly total: number; readonly note?: string; readonly perSecond?: number };
  /** From a training task's `epoch n/N` log lines. */
  readonly epochs?: { readonly epoch: number; readonly of: number; readonly samplesPerSecond?: number; readonly meanEpochMs?: number; readonly lastAt: number };
}

export interface RunCounts {
  readonly done: number;
  readonly failed: number;
  readonly queued: number;
  readonly complete: number;
}

function rate(perSecond: number, unit: string): string {
  return `${perSecond >= 100 ? Math.round(perSecond).toLocaleString('en-US') : perSecond.toFixed(1)} ${unit}/s`;
}

function epochText(epochs: NonNullable<RunningTask['epochs']>, now: number): string {
  const speed = epochs.samplesPerSecond ? `  ${rate(epochs.samplesPerSecond, 'samples')}` : '';
  const leftMs = epochs.meanEpochMs ? Math.max(0, (epochs.of - epochs.epoch) * epochs.meanEpochMs - (now - epochs.lastAt)) : undefined;
  const eta = leftMs !== undefined && epochs.epoch < epochs.of ? `  ETA ${formatDuration(leftMs)}` : '';
  return `epoch ${epochs.epoch}/${epochs.of} ${progressBar(epochs.epoch / epochs.of)}${speed}${eta}`;
}

/**
 * What follows a running task's name and elapsed time: a progress bar with
 * rate and ETA when it reports any. A training task's epoch lines win over
 * its progress reports: they carry samples/s.
 */
function progressText(task: RunningTask, now: number): string {
  const { progress, epochs } = task;
  if (epochs) return epochText(epochs, now);
  if (!progress || progress.total <= 0) return '';
  const left = progress.total - progress.done;
  const eta = progress.perSecond && progress.perSecond > 0 ? `  ETA ${formatDuration((left / progress.perSecond) * 1000)}` : '';
  const speed = progress.perSecond ? `  ${rate(progress.perSecond, progress.note ?? 'items')}` : '';
  return `${progress.note ? `${progress.note} ` : ''}${progressBar(progress.done / progress.total)}${speed}${eta}`;
}

/** The status block: one line per running task (oldest first), then the counts; each cut to `width` so none wraps. */
export function statusLines(running: readonly RunningTask[], counts: RunCounts, now: number, width: number): string[] {
  const cut = (line: string) => (line.length > width ? `${line.slice(0, Math.max(1, width - 1))}…` : line);
  const lines = running.map((t) => cut(`  ▸ ${shortTaskId(t.taskId).padEnd(28)} ${formatDuration(now - t.startedAt).padStart(6)}  ${progressText(t, now)}`.trimEnd()));
  const parts = [`running ${running.length}`, `done ${counts.done}`, `failed ${counts.failed}`, `queued ${counts.queued}`];
  if (counts.complete > 0) parts.push(`already complete ${counts.complete}`);
  lines.push(cut(`  ${parts.join(' · ')}`));
  return lines;
}
