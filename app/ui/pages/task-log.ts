import { type Html, html } from '../html';

export const logLevels: Readonly<Record<number, string>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const quiet = new Set(['level', 'time', 'pid', 'hostname', 'runId', 'taskId', 'msg', 'err']);

/** One kept log line, read: its level by name, its message, its other fields, and an error's stack as lines. */
export interface LogEntry {
  readonly time?: string;
  readonly level: string;
  readonly msg: string;
  readonly fields: [string, string][];
  readonly error?: { readonly message: string; readonly stack?: string };
}

function fieldText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Kept pino JSON lines as entries; a line that is not JSON is kept as an info line of its own. */
export function logEntries(text: string): LogEntry[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line): LogEntry => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
        if (entry === null || typeof entry !== 'object') throw new Error('not an object');
      } catch {
        return { level: 'info', msg: line, fields: [] };
      }
      const err = entry.err as { message?: unknown; stack?: unknown; type?: unknown } | undefined;
      return {
        ...(typeof entry.time === 'number' ? { time: new Date(entry.time).toISOString().slice(11, 23) } : {}),
        level: logLevels[entry.level as number] ?? String(entry.level ?? 'info'),
        msg: String(entry.msg ?? ''),
        fields: Object.entries(entry).filter(([k]) => !quiet.has(k)).map(([k, v]) => [k, fieldText(v)]),
        ...(err && typeof err === 'object'
          ? { error: { message: `${typeof err.type === 'string' ? `${err.type}: ` : ''}${String(err.message ?? '')}`, ...(typeof err.stack === 'string' ? { stack: err.stack } : {}) } }
          : {}),
      };
    });
}

/**
 * A task's kept log as a list one can filter by level and search (app.js),
 * with stack traces on their own lines: the newlines of a JSON string are
 * real newlines here, not a literal `\n`.
 */
export function logView(text: string): Html {
  const entries = logEntries(text);
  const counts = new Map<string, number>();
  for (const e of entries) counts.set(e.level, (counts.get(e.level) ?? 0) + 1);
  return html`<div class="log-tools" id="log-tools"><label>level at least <select id="log-level">${Object.values(logLevels).map((l) => html`<option value="${l}"${l === 'trace' ? html` selected` : ''}>${l}${counts.has(l) ? ` (${counts.get(l)})` : ''}</option>`)}</select></label>
<label>search <input id="log-search" type="search" placeholder="text in a message or field"></label> <span id="log-shown">${entries.length} line(s)</span></div>
<div class="log" id="task-log">${entries.map(
  (e) => html`<div class="log-line level-${e.level.replace(/[^a-z]/g, '')}" data-level="${e.level}">${e.time ? html`<span class="log-time">${e.time}</span> ` : ''}<span class="log-level">${e.level.toUpperCase()}</span> <span class="log-msg">${e.msg}</span>${e.fields.map(([k, v]) => html` <span class="log-field"><span class="k">${k}</span>=${v}</span>`)}${e.error ? html`<pre class="stack">${e.error.stack ?? e.error.message}</pre>` : ''}</div>`,
)}</div>`;
}
