import { ParameterError } from '../errors';
import { redacted, registerSecret } from '../secrets';

/** A JSON-serializable parameter value: scalars, lists (`param.list`) and objects (`param.json`). */
export type ParamValue = string | number | boolean | readonly ParamValue[] | { readonly [key: string]: ParamValue };

export interface ParamOptions<T extends ParamValue> {
  /** Used when the caller gives no value; a parameter without a default is required. */
  default?: T;
  /** Shown by `--help`. */
  description?: string;
  /** False keeps the parameter out of the task id (e.g. a log verbosity); default true. */
  significant?: boolean;
  /**
   * A credential (an API token): kept out of the task id, redacted in every
   * log line, record, label and error, and passed to container steps through
   * their environment, never their command line. Default false.
   */
  secret?: boolean;
}

/** How a kind reads and checks values; see `param`. */
export interface ParamKind<T extends ParamValue> {
  /** What a valid value is, in words: "an integer >= 1". */
  readonly expected: string;
  /** Returns the value (normalised), or undefined when it is not acceptable. */
  check(value: unknown): T | undefined;
  /** Turns command-line text into a value for `check`; default: the text itself. */
  fromText?(text: string): unknown;
  /** Turns a value back into command-line text that `fromText` reads back exactly; default `String`. */
  toText?(value: T): string;
  /** Command-line syntax for `--help`, when it differs from `expected` (e.g. "1,2,3 or a JSON array"). */
  readonly syntax?: string;
}

/**
 * One declared parameter: how to check a value given in code or JSON, how
 * to parse one given on the command line, and how to write it back.
 */
export class Param<T extends ParamValue = ParamValue> {
  readonly default: T | undefined;
  readonly description: string | undefined;
  readonly significant: boolean;
  readonly secret: boolean;
  readonly expected: string;

  constructor(
    private readonly kind: ParamKind<T>,
    options: ParamOptions<T>,
  ) {
    this.expected = kind.expected;
    this.default = options.default;
    this.description = options.description;
    this.secret = options.secret ?? false;
    this.significant = !this.secret && (options.significant ?? true);
  }

  get isFlag(): boolean {
    return this.expected === 'true or false';
  }

  /** Command-line syntax for `--help`. */
  get syntax(): string {
    return this.kind.syntax ?? this.expected;
  }

  /** Checks `value` (undefined means "not given"), applying the default. */
  resolve(family: string, name: string, value: unknown): T {
    if (value === undefined) {
      if (this.default === undefined) throw new ParameterError(family, name, undefined, this.expected);
      return this.remember(this.default);
    }
    const ok = this.check(value);
    if (ok === undefined) throw new ParameterError(family, name, this.secret ? redacted : value, this.expected);
    return this.remember(ok);
  }

  /** Parses command-line text, then checks it like any other value. */
  parse(family: string, name: string, text: string): T {
    let parsed: unknown;
    try {
      parsed = this.kind.fromText ? this.kind.fromText(text) : text;
    } catch {
      parsed = undefined; // unparseable text (bad JSON, a bad list item): reported below as this parameter's error
    }
    const ok = parsed === undefined ? undefined : this.check(parsed);
    if (ok === undefined) throw new ParameterError(family, name, this.secret ? redacted : text, this.expected);
    return this.remember(ok);
  }

  /** The value as command-line text that `parse` turns back into the same value. */
  toText(value: T): string {
    return this.kind.toText ? this.kind.toText(value) : String(value);
  }

  private check(value: unknown): T | undefined {
    try {
      return this.kind.check(value);
    } catch {
      return undefined;
    }
  }

  private remember(value: T): T {
    if (this.secret && typeof value === 'string') registerSecret(value);
    return value;
  }
}
