/**
 * Cancelling a run from outside its process (the web UI's Cancel button): the
 * UI writes `<store>/_run-data/<runId>/cancel.json`; the flow looks for it
 * every `pollMs` and, once there, sends itself SIGTERM, so the run stops
 * exactly as on SIGTERM (no new task starts, running ones are aborted,
 * history says `cancelled`).
 */
import type { Store } from '../store/store';
import { storeFolder } from '../history/store-files';

export const cancelRequestFile = (store: Store, runId: string) => {
  const folder = storeFolder(store, '_run-data');
  return { fs: folder.fs, path: folder.fs.join(folder.path, `${runId}/cancel.json`) };
};

/** Polls for a cancel request while the run goes on; returns the function that stops polling. The timer never keeps the process alive. */
export function terminateOnCancelRequest(store: Store, runId: string, onRequest: (by: unknown) => void, pollMs = 1000): () => void {
  const file = cancelRequestFile(store, runId);
  let stopped = false;
  const timer = setInterval(() => {
    void file.fs.read(file.path).then(
      (body) => {
        if (stopped) return;
        stopped = true;
        clearInterval(timer);
        let by: unknown;
        try {
          by = JSON.parse(body.toString('utf8'));
        } catch {
          by = undefined;
        }
        onRequest(by);
        process.kill(process.pid, 'SIGTERM');
      },
      () => undefined,
    );
  }, pollMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
