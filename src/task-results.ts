import { TaskResultError } from './errors';
import { parseStoredJson } from './store/stored-file';
import { type Store, toStore } from './store/store';
import type { JsonValue } from './task-events';

/**
 * Task return values (Prefect's persisted results): what `run()` returns is
 * kept under the task's id, which does not depend on the run, so a later run
 * that finds the task complete still hands its result to dependents.
 */

/** The largest result kept, as JSON; larger data belongs in an output target. */
export const maxResultBytes = 1024 * 1024;

/** What `ctx.results` offers: the results of other tasks, and where executors keep a task's own. */
export interface TaskResults {
  /** The value `task.run()` returned, in this run or an earlier one; `TaskResultError` when none is kept. */
  of<T extends JsonValue = JsonValue>(task: { readonly id: string }): Promise<T>;
  /** Keeps `value` as the result of `taskId` (an executor calls it with what `run()` returned); `undefined` removes an older one. */
  keep(taskId: string, value: unknown): Promise<void>;
}

/** `value` as result JSON, checked: `TaskResultError` when it is not JSON or over `maxResultBytes`. */
export function resultJson(taskId: string, value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new TaskResultError(taskId, `run() returned a value that is not JSON (${(err as Error).message}); return plain objects, arrays, strings, numbers, booleans or null.`);
  }
  if (text === undefined) throw new TaskResultError(taskId, 'run() returned a value that is not JSON (a function or a symbol); return plain data.');
  const bytes = Buffer.byteLength(text);
  if (bytes > maxResultBytes) {
    throw new TaskResultError(taskId, `run() returned a ${bytes}-byte result; the limit is ${maxResultBytes} bytes. Write large data to an output target and return its URI.`);
  }
  return text;
}

const noResult = (taskId: string) =>
  new TaskResultError(
    taskId,
    'has no kept result: its run() returned nothing, or it last ran before it returned one (run it again: --rerun with its family), or its result was kept in another store.',
  );

/** The stored form: `<store>/_results/<taskId>.json`. */
interface StoredResult {
  readonly format: 'dagwright.result/1';
  readonly taskId: string;
  readonly writtenAt: string;
  readonly value: JsonValue;
}

const checkStored = (value: unknown): string | undefined =>
  typeof value === 'object' && value !== null && (value as StoredResult).format === 'dagwright.result/1' && 'value' in value ? undefined : 'it is not a dagwright.result/1 record';

/** Results kept in a store, under `_results/`: written atomically, read by any process that sees the store (a container step, a later run). */
export function storeResults(storeOrUri: Store | string): TaskResults {
  const store = toStore(storeOrUri);
  const fileOf = (taskId: string) => store.file('_results', `${taskId}.json`);
  return {
    async of<T extends JsonValue>(task: { readonly id: string }): Promise<T> {
      const file = fileOf(task.id);
      if (!(await file.exists())) throw noResult(task.id);
      const repair = `Run ${task.id} again (--rerun) to write its result anew.`;
      return parseStoredJson<StoredResult>(await file.readBytes(), file.uri, checkStored, repair).value as T;
    },
    async keep(taskId: string, value: unknown): Promise<void> {
      if (value === undefined) {
        // An older result would be handed on as if this run had returned it.
        if (await fileOf(taskId).exists()) await store.fs.remove(fileOf(taskId).path);
        return;
      }
      const json = resultJson(taskId, value);
      await fileOf(taskId).writeText(`{"format":"dagwright.result/1","taskId":${JSON.stringify(taskId)},"writtenAt":"${new Date().toISOString()}","value":${json}}\n`);
    },
  };
}

/** Results kept in memory for one run (`run()` without `results`): checked as a store would, gone with the process. */
export function memoryResults(): TaskResults {
  const kept = new Map<string, string>();
  return {
    async of<T extends JsonValue>(task: { readonly id: string }): Promise<T> {
      const text = kept.get(task.id);
      if (text === undefined) throw noResult(task.id);
      return JSON.parse(text) as T;
    },
    async keep(taskId: string, value: unknown): Promise<void> {
      if (value === undefined) kept.delete(taskId);
      else kept.set(taskId, resultJson(taskId, value));
    },
  };
}
