import { UsageError } from '../errors';
import { type ParamSpecs, type ParamValue, secretEnvName, toFlagName } from '../params';

/**
 * Parameter values to and from command-line arguments, exactly: every value
 * is written as one `--flag=value` argument, so negative numbers, leading
 * dashes, `=`, spaces, unicode and empty strings reach the step unchanged;
 * secret parameters go into the step's environment instead.
 */

export { secretEnvName };

export interface EncodedParams {
  /** Arguments for the step's command line. */
  readonly args: string[];
  /** Secret values, for the step's environment only. */
  readonly env: Record<string, string>;
}

/** Encodes values for a step started elsewhere; `decodeParamArgs` (the flow's own parser) reads them back. */
export function encodeParamArgs(specs: ParamSpecs, params: Readonly<Record<string, ParamValue>>): EncodedParams {
  const args: string[] = [];
  const env: Record<string, string> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const value = params[name];
    if (value === undefined) continue;
    const flag = toFlagName(name);
    if (spec.secret) env[secretEnvName(name)] = spec.toText(value as never);
    else if (typeof value === 'boolean') args.push(value ? `--${flag}` : `--no-${flag}`);
    else args.push(`--${flag}=${spec.toText(value as never)}`);
  }
  return { args, env };
}

/** What `normalizeArgs` needs to know about each option. */
export interface OptionShape {
  readonly type: 'string' | 'boolean';
  /** What its value must be, for the "lacks a value" error. */
  readonly expects: string;
}

/** `--flag=true|false` or `--flag true|false` for a boolean option, as the bare forms: `--flag`, and `--no-flag` (or nothing when not `negatable`). */
function booleanForm(name: string, value: string, shapes: Readonly<Record<string, OptionShape>>, negatable: boolean): string[] {
  const negated = name.startsWith('no-') && shapes[name] === undefined;
  const base = negated ? name.slice(3) : name;
  if (value !== 'true' && value !== 'false') {
    throw new UsageError(`--${name} got "${value}"; expected true or false (or write --${base}${negatable ? ` / --no-${base}` : ''}).`);
  }
  const on = (value === 'true') !== negated;
  if (on) return [`--${base}`];
  return negatable ? [`--no-${base}`] : [];
}

/**
 * Joins `--flag value` into `--flag=value` for options that take a value,
 * so a value starting with a dash (`--offset -2`, `--label -x`) is a value,
 * not an unknown option. An argument naming a known option is never taken as
 * a value: then the option lacks one, and the error says which and what it
 * expects. A boolean option takes both forms: `--retrain` / `--no-retrain`
 * and `--retrain true|false` / `--retrain=true|false`; with `negatable`
 * false (a parser without `--no-` forms) false leaves the option out.
 */
export function normalizeArgs(argv: readonly string[], shapes: Readonly<Record<string, OptionShape>>, negatable = true): string[] {
  const isBoolean = (name: string): boolean => shapes[name]?.type === 'boolean' || (negatable && name.startsWith('no-') && shapes[name.slice(3)]?.type === 'boolean');
  const isOption = (arg: string): boolean => {
    if (!arg.startsWith('--')) return false;
    const name = arg.slice(2).split('=')[0];
    return name in shapes || isBoolean(name);
  };
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const [name, ...rest] = arg.startsWith('--') ? arg.slice(2).split('=') : [];
    if (name !== undefined && isBoolean(name)) {
      const next = argv[i + 1];
      if (rest.length > 0) out.push(...booleanForm(name, rest.join('='), shapes, negatable));
      else if (next === 'true' || next === 'false') out.push(...booleanForm(name, argv[++i], shapes, negatable));
      else out.push(arg);
      continue;
    }
    const shape = name === undefined || rest.length > 0 ? undefined : shapes[name];
    if (shape?.type !== 'string') {
      out.push(arg);
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined || isOption(next)) {
      throw new UsageError(`option --${name} lacks a value; expected ${shape.expects} (write --${name} <value>, or --${name}=<value>).`);
    }
    out.push(`--${name}=${next}`);
    i++;
  }
  return out;
}
