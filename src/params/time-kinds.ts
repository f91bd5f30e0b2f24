import type { ParamKind } from './param';

/** Calendar and clock kinds, kept as ISO-like strings so ids, JSON and folder names stay readable and sort in time order. */

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** The UTC date of `text` if it is exactly `pattern` and a real instant, else undefined. */
function exactUtc(text: unknown, pattern: RegExp, toIso: (m: RegExpExecArray) => string, back: (d: Date) => string): string | undefined {
  if (typeof text !== 'string') return undefined;
  const m = pattern.exec(text);
  if (!m) return undefined;
  const d = new Date(toIso(m));
  return !Number.isNaN(d.getTime()) && back(d) === text ? text : undefined;
}

export const isoDate = (d: Date): string => d.toISOString().slice(0, 10);
export const isoDateHour = (d: Date): string => `${isoDate(d)}T${pad(d.getUTCHours())}`;
export const isoDateMinute = (d: Date): string => `${isoDateHour(d)}${pad(d.getUTCMinutes())}`;
export const isoMonth = (d: Date): string => d.toISOString().slice(0, 7);

export function checkDate(v: unknown): string | undefined {
  return exactUtc(v, /^(\d{4})-(\d{2})-(\d{2})$/, (m) => `${m[0]}T00:00:00Z`, isoDate);
}
export function checkDateHour(v: unknown): string | undefined {
  return exactUtc(v, /^(\d{4}-\d{2}-\d{2})T(\d{2})$/, (m) => `${m[1]}T${m[2]}:00:00Z`, isoDateHour);
}
export function checkDateMinute(v: unknown): string | undefined {
  return exactUtc(v, /^(\d{4}-\d{2}-\d{2})T(\d{2})(\d{2})$/, (m) => `${m[1]}T${m[2]}:${m[3]}:00Z`, isoDateMinute);
}
export function checkMonth(v: unknown): string | undefined {
  return exactUtc(v, /^\d{4}-\d{2}$/, (m) => `${m[0]}-01T00:00:00Z`, isoMonth);
}

export const dateKind: ParamKind<string> = { expected: 'a date YYYY-MM-DD', check: checkDate };
export const dateHourKind: ParamKind<string> = { expected: 'a UTC hour YYYY-MM-DDTHH', check: checkDateHour };
export const dateMinuteKind: ParamKind<string> = { expected: 'a UTC minute YYYY-MM-DDTHHMM', check: checkDateMinute };
export const monthKind: ParamKind<string> = { expected: 'a month YYYY-MM', check: checkMonth };

export const yearKind: ParamKind<number> = {
  expected: 'a year YYYY',
  check: (v) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 && v <= 9999 ? v : undefined),
  fromText: (t) => (/^\d{4}$/.test(t) ? Number(t) : t),
};

/** `start/end`, both dates, start <= end, both days included. */
export const dateIntervalKind: ParamKind<string> = {
  expected: 'a date interval YYYY-MM-DD/YYYY-MM-DD (start <= end, both included)',
  check: (v) => {
    if (typeof v !== 'string') return undefined;
    const [start, end, extra] = v.split('/');
    return extra === undefined && checkDate(start) && checkDate(end) && start <= end ? v : undefined;
  },
};

const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `1h30m`, `45s`, `250ms`, `2d`; a plain number is milliseconds. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d|w))+$/.test(t)) return undefined;
  let total = 0;
  for (const [, n, , unit] of t.matchAll(/(\d+(\.\d+)?)(ms|s|m|h|d|w)/g)) total += Number(n) * unitMs[unit];
  return total;
}

/** Milliseconds as the shortest exact `1h30m` form. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0ms';
  let left = ms;
  let out = '';
  for (const unit of ['w', 'd', 'h', 'm', 's']) {
    const n = Math.floor(left / unitMs[unit]);
    if (n > 0) {
      out += `${n}${unit}`;
      left -= n * unitMs[unit];
    }
  }
  return left > 0 ? `${out}${left}ms` : out;
}

/** A length of time, kept as milliseconds (a number). */
export const durationKind: ParamKind<number> = {
  expected: 'a duration such as 90s, 1h30m, 250ms or 2d (a plain number is milliseconds)',
  check: (v) => {
    const ms = typeof v === 'string' ? parseDuration(v) : v;
    return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? ms : undefined;
  },
  fromText: (t) => t,
  toText: (ms) => formatDuration(ms),
};
