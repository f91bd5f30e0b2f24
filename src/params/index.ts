import { readFileSync } from 'node:fs';
import { ParameterError } from '../errors';
import { type ParamKind, type ParamOptions, Param, type ParamValue } from './param';
import { dateHourKind, dateIntervalKind, dateKind, dateMinuteKind, durationKind, monthKind, yearKind } from './time-kinds';

export { Param, type ParamKind, type ParamOptions, type ParamValue } from './param';

/** Bounds of a number; `gt` / `lt` are exclusive, `min` / `max` inclusive. */
interface RangeOptions<T extends number> extends ParamOptions<T> {
  min?: number;
  max?: number;
  gt?: number;
  lt?: number;
}

function rangeWords(kind: string, { min, max, gt, lt }: RangeOptions<number>): string {
  const parts = [
    ...(min !== undefined ? [`>= ${min}`] : []),
    ...(gt !== undefined ? [`> ${gt}`] : []),
    ...(max !== undefined ? [`<= ${max}`] : []),
    ...(lt !== undefined ? [`< ${lt}`] : []),
  ];
  if (min !== undefined && max !== undefined && parts.length === 2) return `${kind} from ${min} to ${max}`;
  return parts.length === 0 ? kind : `${kind} ${parts.join(' and ')}`;
}

function inRange(n: number, { min, max, gt, lt }: RangeOptions<number>): boolean {
  return (min === undefined || n >= min) && (max === undefined || n <= max) && (gt === undefined || n > gt) && (lt === undefined || n < lt);
}

const numberFromText = (text: string): unknown => (text.trim() === '' ? text : Number(text));

/** Canonical JSON: object keys sorted, so the same object always gives the same task id. */
function canonical(value: unknown): ParamValue | undefined {
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (Array.isArray(value)) {
    const items = value.map(canonical);
    return items.includes(undefined) ? undefined : (items as ParamValue[]);
  }
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, ParamValue> = {};
    for (const key of Object.keys(value).sort()) {
      const v = canonical((value as Record<string, unknown>)[key]);
      if (v === undefined) return undefined;
      out[key] = v;
    }
    return out;
  }
  return undefined;
}

function listKind<T extends ParamValue>(item: Param<T>): ParamKind<T[]> {
  return {
    expected: `a list, each ${item.expected}`,
    syntax: `comma-separated values (a,b,c) or a JSON array; each ${item.expected}`,
    check: (v) => {
      if (!Array.isArray(v)) return undefined;
      const out: T[] = [];
      for (const x of v) out.push(item.resolve('list', 'item', x));
      return out;
    },
    fromText: (t) => {
      if (t.trim().startsWith('[')) return JSON.parse(t);
      if (t === '') return [];
      return t.split(',').map((part) => item.parse('list', 'item', part));
    },
    toText: (v) => JSON.stringify(v),
  };
}

/** Parameter kinds. Each returns a `Param` to list in a task's `static params`. */
export const param = {
  string(options: ParamOptions<string> & { pattern?: RegExp } = {}): Param<string> {
    const { pattern } = options;
    const check = (v: unknown) => (typeof v === 'string' && (!pattern || pattern.test(v)) ? v : undefined);
    return new Param({ expected: pattern ? `a string matching ${pattern}` : 'a string', check }, options);
  },
  int(options: RangeOptions<number> = {}): Param<number> {
    const check = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) && inRange(v, options) ? v : undefined);
    return new Param({ expected: rangeWords('an integer', options), check, fromText: numberFromText }, options);
  },
  number(options: RangeOptions<number> = {}): Param<number> {
    const check = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && inRange(v, options) ? v : undefined);
    return new Param({ expected: rangeWords('a number', options), check, fromText: numberFromText }, options);
  },
  boolean(options: ParamOptions<boolean> = {}): Param<boolean> {
    const fromText = (text: string) => (text === 'true' ? true : text === 'false' ? false : text);
    return new Param({ expected: 'true or false', check: (v) => (typeof v === 'boolean' ? v : undefined), fromText }, options);
  },
  /** A calendar date as YYYY-MM-DD (kept as a string, so ids and JSON stay readable). */
  date(options: ParamOptions<string> = {}): Param<string> {
    return new Param(dateKind, options);
  },
  /** An hour as YYYY-MM-DDTHH (UTC), as Luigi's DateHourParameter. */
  dateHour(options: ParamOptions<string> = {}): Param<string> {
    return new Param(dateHourKind, options);
  },
  /** A minute as YYYY-MM-DDTHHMM (UTC), as Luigi's DateMinuteParameter. */
  dateMinute(options: ParamOptions<string> = {}): Param<string> {
    return new Param(dateMinuteKind, options);
  },
  /** A month as YYYY-MM. */
  month(options: ParamOptions<string> = {}): Param<string> {
    return new Param(monthKind, options);
  },
  /** A year as a number (2026). */
  year(options: ParamOptions<number> = {}): Param<number> {
    return new Param(yearKind, options);
  },
  /** Days from start to end, both included: YYYY-MM-DD/YYYY-MM-DD. */
  dateInterval(options: ParamOptions<string> = {}): Param<string> {
    return new Param(dateIntervalKind, options);
  },
  /** A length of time in milliseconds; the command line takes 90s, 1h30m, 250ms, 2d. */
  duration(options: ParamOptions<number> = {}): Param<number> {
    return new Param(durationKind, options);
  },
  /** A list of values of one kind: `--sizes 1,2,3` or `--sizes '[1,2,3]'`. */
  list<T extends ParamValue>(item: Param<T>, options: ParamOptions<T[]> = {}): Param<T[]> {
    return new Param(listKind(item), options);
  },
  /** A JSON object (`--config '{"a":1}'`); keys are sorted, so equal objects give equal task ids. */
  json(options: ParamOptions<{ readonly [key: string]: ParamValue }> = {}): Param<{ readonly [key: string]: ParamValue }> {
    const check = (v: unknown) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (canonical(v) as { [key: string]: ParamValue }) : undefined);
    return new Param({ expected: 'a JSON object', check, fromText: (t) => JSON.parse(t), toText: (v) => JSON.stringify(v) }, options);
  },
  choice<const C extends string>(choices: readonly C[], options: ParamOptions<C> = {}): Param<C> {
    return new Param({ expected: `one of ${choices.join(', ')}`, check: (v) => (choices.includes(v as C) ? (v as C) : undefined) }, options);
  },
};

/** The parameters a task (or flow) declares, by name. */
export type ParamSpecs = Readonly<Record<string, Param>>;

/** The declarations that match a parameter type `P`: use as `static params: ParamsOf<P> = {...}`. */
export type ParamsOf<P> = { readonly [K in keyof P]-?: Param<Extract<NonNullable<P[K]>, ParamValue>> };

/** The values of a set of declarations. */
export type ValuesOf<S extends ParamSpecs> = { -readonly [K in keyof S]: S[K] extends Param<infer T> ? T : never };

/** Checks every value against `specs`, applies defaults, and rejects unknown names. */
export function resolveParams(family: string, specs: ParamSpecs, given: Record<string, unknown>): Record<string, ParamValue> {
  for (const name of Object.keys(given)) {
    if (!(name in specs) && given[name] !== undefined) {
      const known = Object.keys(specs);
      throw new ParameterError(family, name, given[name], `no such parameter (known: ${known.join(', ') || 'none'})`);
    }
  }
  const values: Record<string, ParamValue> = {};
  for (const [name, spec] of Object.entries(specs)) values[name] = spec.resolve(family, name, given[name]);
  return values;
}

/** The values with every secret parameter's value replaced by `[redacted]`: for records, labels and logs. */
export function redactParams(specs: ParamSpecs, values: Readonly<Record<string, ParamValue>>): Record<string, ParamValue> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, specs[k]?.secret ? '[redacted]' : v]));
}

/** `batchSize` -> `batch-size`: how a parameter is spelled on the command line. */
export function toFlagName(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The environment variable a secret parameter travels in (and a user may set instead of the option): `DAGWRIGHT_SECRET_API_TOKEN`. Secret-named, so step log redaction hides its value too. */
export function secretEnvName(name: string): string {
  return `DAGWRIGHT_SECRET_${toFlagName(name).replace(/-/g, '_').toUpperCase()}`;
}

/**
 * A secret parameter's text from the environment: `DAGWRIGHT_SECRET_<NAME>`,
 * else the file named by `DAGWRIGHT_SECRET_<NAME>_FILE` (Docker's `_FILE`
 * convention: how a Swarm step gets it, mounted from a Swarm secret, so no
 * service spec shows the value), one trailing newline dropped.
 */
export function secretFromEnv(family: string, name: string, env: NodeJS.ProcessEnv): string | undefined {
  const variable = secretEnvName(name);
  if (env[variable] !== undefined) return env[variable];
  const file = env[`${variable}_FILE`];
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ParameterError(family, name, `${variable}_FILE=${file}`, `a readable file holding the secret (${why}), or ${variable} set`);
  }
}
