import { ParameterError } from './errors';

/** A JSON-serializable parameter value. */
export type ParamValue = string | number | boolean;

export interface ParamOptions<T extends ParamValue> {
  /** Used when the caller gives no value; a parameter without a default is required. */
  default?: T;
  /** Shown by `--help`. */
  description?: string;
  /** False keeps the parameter out of the task id (e.g. a log verbosity); default true. */
  significant?: boolean;
}

/**
 * One declared parameter: how to check a value given in code or JSON, and how
 * to parse one given on the command line.
 */
export class Param<T extends ParamValue = ParamValue> {
  readonly default: T | undefined;
  readonly description: string | undefined;
  readonly significant: boolean;

  constructor(
    /** What a valid value is, in words: "an integer >= 1". */
    readonly expected: string,
    /** Returns the value, or undefined when it is not acceptable. */
    private readonly check: (value: unknown) => T | undefined,
    /** Turns command-line text into a value for `check`. */
    private readonly fromText: (text: string) => unknown,
    options: ParamOptions<T>,
  ) {
    this.default = options.default;
    this.description = options.description;
    this.significant = options.significant ?? true;
  }

  get isFlag(): boolean {
    return this.expected === 'true or false';
  }

  /** Checks `value` (undefined means "not given"), applying the default. */
  resolve(family: string, name: string, value: unknown): T {
    if (value === undefined) {
      if (this.default === undefined) throw new ParameterError(family, name, undefined, this.expected);
      return this.default;
    }
    const ok = this.check(value);
    if (ok === undefined) throw new ParameterError(family, name, value, this.expected);
    return ok;
  }

  /** Parses command-line text, then checks it like any other value. */
  parse(family: string, name: string, text: string): T {
    const ok = this.check(this.fromText(text));
    if (ok === undefined) throw new ParameterError(family, name, text, this.expected);
    return ok;
  }
}

interface RangeOptions<T extends number> extends ParamOptions<T> {
  min?: number;
  max?: number;
}

function rangeWords(kind: string, { min, max }: { min?: number; max?: number }): string {
  if (min !== undefined && max !== undefined) return `${kind} from ${min} to ${max}`;
  if (min !== undefined) return `${kind} >= ${min}`;
  if (max !== undefined) return `${kind} <= ${max}`;
  return kind;
}

function inRange(n: number, { min, max }: { min?: number; max?: number }): boolean {
  return (min === undefined || n >= min) && (max === undefined || n <= max);
}

const numberFromText = (text: string): unknown => (text.trim() === '' ? text : Number(text));
const asIs = (text: string): unknown => text;

function isIsoDate(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === text;
}

/** Parameter kinds. Each returns a `Param` to list in a task's `static params`. */
export const param = {
  string(options: ParamOptions<string> & { pattern?: RegExp } = {}): Param<string> {
    const { pattern } = options;
    return new Param(
      pattern ? `a string matching ${pattern}` : 'a string',
      (v) => (typeof v === 'string' && (!pattern || pattern.test(v)) ? v : undefined),
      asIs,
      options,
    );
  },
  int(options: RangeOptions<number> = {}): Param<number> {
    return new Param(
      rangeWords('an integer', options),
      (v) => (typeof v === 'number' && Number.isSafeInteger(v) && inRange(v, options) ? v : undefined),
      numberFromText,
      options,
    );
  },
  number(options: RangeOptions<number> = {}): Param<number> {
    return new Param(
      rangeWords('a number', options),
      (v) => (typeof v === 'number' && Number.isFinite(v) && inRange(v, options) ? v : undefined),
      numberFromText,
      options,
    );
  },
  boolean(options: ParamOptions<boolean> = {}): Param<boolean> {
    return new Param(
      'true or false',
      (v) => (typeof v === 'boolean' ? v : undefined),
      (text) => (text === 'true' ? true : text === 'false' ? false : text),
      options,
    );
  },
  /** A calendar date as YYYY-MM-DD (kept as a string, so ids and JSON stay readable). */
  date(options: ParamOptions<string> = {}): Param<string> {
    return new Param('a date YYYY-MM-DD', (v) => (typeof v === 'string' && isIsoDate(v) ? v : undefined), asIs, options);
  },
  choice<const C extends string>(choices: readonly C[], options: ParamOptions<C> = {}): Param<C> {
    return new Param(
      `one of ${choices.join(', ')}`,
      (v) => (choices.includes(v as C) ? (v as C) : undefined),
      asIs,
      options,
    );
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

/** `batchSize` -> `batch-size`: how a parameter is spelled on the command line. */
export function toFlagName(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
