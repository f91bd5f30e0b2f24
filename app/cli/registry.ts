/**
 * The model registry from the command line.
 *
 *   npx dagwright registry list  [--store ./data] [--model mnist-digits] [--json]
 *   npx dagwright registry show  <version|alias>
 *   npx dagwright registry alias <name> <version>      move an alias by hand (champion: under the promotion contract)
 *   npx dagwright registry contract [show|set <file>]  the promotion contract
 *   npx dagwright registry history                     why champion moved or stayed
 *   npx dagwright registry tag   <version> key=value...
 *   npx dagwright registry add   --onnx <file> --signature <file> [--run <id>] [--metric k=v]... [--alias <name>]
 *
 * Exit codes: 0 done, 1 no such version or alias (add: the file does not match its signature), 2 bad command line.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../../src/errors';
import { DEFAULT_MODEL_NAME, ModelRegistry, type ModelVersion, RegistryError, tagVersion } from '../../tasks/registry/registry';
import { commandStore, runAsScript, storeHelp } from './command';
import { registryAdd } from './registry-add';
import { contractCommand, historyCommand, promoteCommand } from './registry-promotion';


const usage = `usage: dagwright registry <command> [options]

commands:
  list                       the versions, oldest first, with their aliases
  show <version|alias>       one version's record (metrics, lineage, tags) as JSON
  alias <name> <version>     point an alias (e.g. champion) at a version
  tag <version> key=value... add or replace tags on a version
  add --onnx <file> --signature <file>
                             register an ONNX model from any framework (checked with ONNX Runtime)
  contract [show]            the promotion contract in force (or that there is none)
  contract set <file.json>   declare a new contract version: {"sources":[{"source":"mnist-test","weight":0.5,
                             "maxDropPoints":2},...],"metric":"accuracy"|"macro-f1","minMargin":0.002,"reason":"..."}
  history                    every champion decision with both versions' scores per source, and contract changes

options:
  ${storeHelp}
  --model <name>             the registered model name (default: ${DEFAULT_MODEL_NAME})
  --json                     list: print JSON instead of a table
  --run <id> / --metric k=v / --alias <name>
                             add: the run it came from, its metrics, an alias to point at it
  --json                     list, history: print JSON instead of a table
  --force                    alias champion: move it even when the promotion contract refuses (recorded)
  --help                     show this help
`;

class CliUsageError extends Error {}

function metric(v: ModelVersion, name: string): string {
  const value = v.metrics[name];
  return typeof value === 'number' ? value.toFixed(4) : '-';
}

function lineageValue(v: ModelVersion, path: string[]): string {
  let value: unknown = v.lineage;
  for (const key of path) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  return value === undefined ? '-' : String(value);
}

function table(versions: ModelVersion[], aliases: Record<string, number>): string {
  const aliasesOf = (n: number) => Object.keys(aliases).filter((a) => aliases[a] === n).join(',');
  const rows = [
    ['version', 'created', 'test acc', 'increment', 'images', 'aliases', 'tags'],
    ...versions.map((v) => [
      String(v.version),
      v.createdAt.slice(0, 19).replace('T', ' '),
      metric(v, 'testAccuracy'),
      lineageValue(v, ['data', 'increment']),
      lineageValue(v, ['data', 'images']),
      aliasesOf(v.version) || '-',
      Object.entries(v.tags).map(([k, t]) => `${k}=${t}`).join(',') || '-',
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n';
}

function versionNumber(text: string | undefined): number {
  if (text === undefined || !/^\d+$/.test(text) || Number(text) < 1) throw new CliUsageError(`expected a version number >= 1, got ${JSON.stringify(text ?? '')}.`);
  return Number(text);
}

const cliOptions = {
  store: { type: 'string' },
  model: { type: 'string', default: DEFAULT_MODEL_NAME },
  json: { type: 'boolean', default: false },
  onnx: { type: 'string' },
  signature: { type: 'string' },
  run: { type: 'string' },
  metric: { type: 'string', multiple: true },
  alias: { type: 'string' },
  force: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

type CliValues = ReturnType<typeof parseArgs<{ options: typeof cliOptions; allowPositionals: true; strict: true }>>['values'];
type Write = (text: string) => void;

async function listCommand(registry: ModelRegistry, json: boolean, out: Write): Promise<number> {
  const versions = await registry.versions();
  const aliases = await registry.aliases();
  if (json) out(`${JSON.stringify({ model: registry.model, aliases, versions }, null, 2)}\n`);
  else if (versions.length === 0) out(`model "${registry.model}" has no versions in ${registry.store}\n`);
  else out(table(versions, aliases));
  return 0;
}

async function showCommand(registry: ModelRegistry, versionOrAlias: string, out: Write): Promise<number> {
  const version = await registry.resolve(versionOrAlias);
  const aliases = await registry.aliases();
  out(`${JSON.stringify({ ...version, aliases: Object.keys(aliases).filter((a) => aliases[a] === version.version) }, null, 2)}\n`);
  return 0;
}

async function tagCommand(registry: ModelRegistry, version: string, pairs: readonly string[], out: Write): Promise<number> {
  const tags: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new CliUsageError(`expected key=value, got ${JSON.stringify(pair)}.`);
    tags[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const updated = await tagVersion(registry, versionNumber(version), tags);
  out(`${JSON.stringify(updated.tags)}\n`);
  return 0;
}

function noArguments(command: string, rest: readonly string[], what = 'no arguments'): void {
  if (rest.length > 0) throw new CliUsageError(`${command} takes ${what}, got ${rest.join(' ')}.`);
}

async function runCommand(registry: ModelRegistry, command: string, rest: readonly string[], values: CliValues, out: Write, err: Write): Promise<number> {
  switch (command) {
    case 'list':
      noArguments(command, rest);
      return listCommand(registry, values.json, out);
    case 'show':
      if (rest.length !== 1) throw new CliUsageError('show takes one argument: a version number or an alias.');
      return showCommand(registry, rest[0], out);
    case 'alias': {
      if (rest.length !== 2) throw new CliUsageError('alias takes two arguments: the alias name and a version number.');
      if (rest[0] === 'champion') return promoteCommand(registry, versionNumber(rest[1]), values.force, out, err);
      const change = await registry.setAlias(rest[0], versionNumber(rest[1]), 'moved by hand');
      out(`${change.alias}: ${change.previous ?? '(none)'} -> ${change.version}\n`);
      return 0;
    }
    case 'tag':
      if (rest.length < 2) throw new CliUsageError('tag takes a version number and at least one key=value.');
      return tagCommand(registry, rest[0], rest.slice(1), out);
    case 'add':
      noArguments(command, rest, 'options only');
      return registryAdd(registry, values, out, err);
    case 'contract':
      return contractCommand(registry, rest, out, (m) => new CliUsageError(m));
    case 'history':
      noArguments(command, rest);
      return historyCommand(registry, values.json, out);
    default:
      throw new CliUsageError(`unknown command "${command}"; expected list, show, alias, tag, add, contract or history.`);
  }
}

/** Runs one command; returns the exit code. Output goes to `out`, errors to `err`. */
export async function registryCli(argv: readonly string[], out: Write = (t) => process.stdout.write(t), err: Write = (t) => process.stderr.write(t)): Promise<number> {
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options: cliOptions, allowPositionals: true, strict: true });
    const [command, ...rest] = positionals;
    if (values.help || command === undefined) {
      out(usage);
      return values.help ? 0 : 2;
    }
    return await runCommand(new ModelRegistry(commandStore(values.store).uri, values.model), command, rest, values, out, err);
  } catch (e) {
    if (e instanceof RegistryError) {
      err(`error: ${e.message}\n`);
      return e.kind === 'invalid' ? 2 : 1;
    }
    if (e instanceof CliUsageError || e instanceof UsageError || (e as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      err(`error: ${(e as Error).message} Run with --help for usage.\n`);
      return 2;
    }
    throw e;
  }
}

if (require.main === module) runAsScript((argv) => registryCli(argv));
