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

/**
 * Joins `--flag value` into `--flag=value` for options that take a value,
 * so a value starting with a dash (`--offset -2`, `--label -x`) is a value,
 * not an unknown option. An argument naming a known option is never taken as
 * a value: then the option lacks one, and the error says which and what it
 * expects.
 */
export function normalizeArgs(argv: readonly string[], shapes: Readonly<Record<string, OptionShape>>): string[] {
  const isOption = (arg: string): boolean => {
    if (!arg.startsWith('--')) return false;
    const name = arg.slice(2).split('=')[0];
    return name in shapes || (name.startsWith('no-') && shapes[name.slice(3)]?.type === 'boolean');
  };
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : undefined;
    const shape = name === undefined ? undefined : shapes[name];
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
