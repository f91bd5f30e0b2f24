import type { SchedulerEvent } from '../scheduler';

/** What a watcher of runs hears: each guarded run's start and end, and its scheduler events in between. */
export type RunEvent = SchedulerEvent | { readonly type: 'run:start' | 'run:end'; readonly runId: string };

const watchers = new Set<(event: RunEvent) => void>();

/** Calls `watcher` with every guarded run's events (the terminal's live view listens); returns a function that stops it. */
export function watchRuns(watcher: (event: RunEvent) => void): () => void {
  watchers.add(watcher);
  return () => watchers.delete(watcher);
}

/** Tells every watcher; a watcher's failure never reaches the run. */
export function tellRunWatchers(event: RunEvent): void {
  for (const watcher of watchers) {
    try {
      watcher(event);
    } catch {
      // a display must never break a run
    }
  }
}
