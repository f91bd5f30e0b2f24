import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../../src/errors';
import { normalizeArgs, type OptionShape } from '../../src/flow/param-args';
import { parseStore, type Store } from '../../src/store/store';

/** Where a command writes: results to `out` (stdout), messages to `err` (stderr). */
export interface CommandIo {
  out: (text: string) => void;
  err?: (text: string) => void;
}

/** One `dagwright` subcommand: a line for `dagwright --help` and its run; returns the exit code. */
export interface Command {
  readonly summary: string;
  run(argv: readonly string[], io: CommandIo): Promise<number>;
}

/** Exit codes of every `dagwright` command. */
export const CommandExit = {
  ok: 0,
  /** The command ran and something failed (a container not removed, no such version). */
  failed: 1,
  /** Bad command line or configuration (no engine, a bad store): nothing was done. */
  usage: 2,
} as const;

/** The `--store` option every command that reads a store takes. */
export const storeOption = { store: { type: 'string' } } as const satisfies NonNullable<ParseArgsConfig['options']>;

/** `--store` help, the same in every command. */
export const storeHelp = '--store <folder|s3://bucket/prefix>  the flow store (default ./data, as for flow scripts)';

/** The store a command reads: `--store`, else `./data`; a bad value is a usage error naming it. */
export function commandStore(value: string | undefined): Store {
  return parseStore(value ?? './data');
}

/**
 * The arguments with boolean options in their bare form, so `--json true`,
 * `--read-only=false` work as flow scripts' options do (`--x false` leaves
 * the option out), and `--port --json` says `--port` lacks a value.
 */
export function commandArgs(argv: readonly string[], options: NonNullable<ParseArgsConfig['options']>): string[] {
  const shapes: Record<string, OptionShape> = {};
  for (const [name, option] of Object.entries(options)) shapes[name] = { type: option.type, expects: 'a value' };
  return normalizeArgs(argv, shapes, false);
}

/** Parses a command's options strictly; a bad option is a `UsageError` quoting the usage text. */
export function parseCommandArgs(
  argv: readonly string[],
  options: NonNullable<ParseArgsConfig['options']>,
  usage: string,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: commandArgs(argv, options), options, allowPositionals: true, strict: true });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (err) {
    throw new UsageError(`${(err as Error).message}.\n${usage}`);
  }
}

/**
 * Runs a command the way every `dagwright` command runs: its exit code, or
 * for an error one line on stderr (no stack trace) and 2 for a usage error, 1
 * otherwise.
 */
export async function runCommand(command: Command, argv: readonly string[], io: CommandIo): Promise<number> {
  try {
    return await command.run(argv, io);
  } catch (err) {
    const write = io.err ?? ((text: string) => process.stderr.write(text));
    write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return err instanceof UsageError ? CommandExit.usage : CommandExit.failed;
  }
}

/** Runs a command function as this process's program (`npx ts-node app/cli/x.ts ...`) and exits with its code. */
export function runAsScript(run: Command['run']): void {
  void runCommand({ summary: '', run }, process.argv.slice(2), { out: (text) => process.stdout.write(text) }).then((code) => process.exit(code));
}
