import { availableParallelism } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DagwrightError, UsageError } from '../errors';
import { type LogLevel, logLevels } from '../logger';
import { type ParamSpecs, type ParamValue, secretFromEnv, toFlagName } from '../params';
import { encodeParamArgs, normalizeArgs, type OptionShape, secretEnvName } from './param-args';
import type { FlowDefinition } from './flow';
import { checkSchedule } from './schedule';
import { checkStore } from '../targets/uri';

// The names come from the executor table (./executors), so adding an executor is one entry there.
import { executorNames, type ExecutorName } from './executors';
export { executorNames, type ExecutorName };

/** The standard options every flow script accepts. */
export interface StandardOptions {
  workers: number;
  executor: ExecutorName;
  store: string;
  dryRun: boolean;
  graph: boolean;
  logLevel: LogLevel;
  help: boolean;
  /** Wait for another run holding the lock instead of exiting. */
  wait: boolean;
  /** Run on this cron schedule in the foreground instead of once. */
  schedule: string | undefined;
  /** Internal: run only this task, once, in this process (how container steps start). */
  runTask: string | undefined;
  /** Families or task ids to run again even if complete, with everything downstream. */
  rerun: string[];
  /** A name for this run in run history and the web UI. */
  runName: string | undefined;
  /** Capacities of named concurrency pools (`--pool gpu=1`). */
  pool: Record<string, number>;
  /** At most this many tasks of a family at once (`--family-limit Train=1`). */
  familyLimit: Record<string, number>;
}

export interface ParsedArgs {
  params: Record<string, ParamValue>;
  options: StandardOptions;
}

interface StandardOption {
  flag: string;
  type: 'string' | 'boolean';
  help: string;
  default?: string;
  hidden?: boolean;
  /** May be given several times. */
  multiple?: boolean;
  /** What the value must be, for "lacks a value" errors; default: the help text. */
  expects?: string;
}

const standard: Record<keyof StandardOptions, StandardOption> = {
  workers: { flag: 'workers', type: 'string', help: 'tasks run at once', default: String(availableParallelism()) },
  executor: {
    flag: 'executor',
    type: 'string',
    help: `where steps run: ${executorNames.join(', ')} (auto: Docker when an engine answers, else in process)`,
    default: 'auto',
  },
  store: { flag: 'store', type: 'string', help: 'where outputs go: a folder or s3://bucket/prefix', default: './data' },
  dryRun: { flag: 'dry-run', type: 'boolean', help: 'print what would run and why; run nothing' },
  graph: { flag: 'graph', type: 'boolean', help: 'print the task graph as Graphviz DOT; run nothing' },
  logLevel: { flag: 'log-level', type: 'string', help: `one of ${logLevels.join(', ')}`, default: 'info' },
  wait: { flag: 'wait', type: 'boolean', help: 'if another run of this flow holds the lock, wait for it' },
  schedule: {
    flag: 'schedule',
    type: 'string',
    help: 'stay in the foreground and run on this cron schedule, e.g. "*/30 * * * *" (6 fields: seconds first)',
  },
  rerun: {
    flag: 'rerun',
    type: 'string',
    multiple: true,
    help: 'run this family or task id again even if complete, and everything downstream of it (repeatable)',
    expects: 'a task family or task id',
  },
  runName: { flag: 'run-name', type: 'string', help: 'a name for this run in run history and the web UI (default: the flow and its key parameters)', expects: 'a name' },
  pool: {
    flag: 'pool',
    type: 'string',
    multiple: true,
    help: 'capacity of a concurrency pool tasks declare in `pools`, e.g. gpu=1 (repeatable)',
    expects: 'NAME=N with N an integer >= 1',
  },
  familyLimit: {
    flag: 'family-limit',
    type: 'string',
    multiple: true,
    help: 'at most N tasks of a family at once, e.g. TrainModel=1 (repeatable)',
    expects: 'FAMILY=N with N an integer >= 1',
  },
  help: { flag: 'help', type: 'boolean', help: 'show this help' },
  runTask: { flag: 'run-task', type: 'string', help: 'run one task by id', hidden: true },
};

function parseConfig(specs: ParamSpecs): { options: NonNullable<ParseArgsConfig['options']>; shapes: Record<string, OptionShape> } {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  const shapes: Record<string, OptionShape> = {};
  for (const opt of Object.values(standard)) {
    options[opt.flag] = { type: opt.type, ...(opt.multiple ? { multiple: true } : {}) };
    shapes[opt.flag] = { type: opt.type, expects: opt.expects ?? opt.help };
  }
  for (const [name, spec] of Object.entries(specs)) {
    const flag = toFlagName(name);
    if (flag in options) throw new UsageError(`flow parameter "${name}" clashes with the standard option --${flag}; rename it.`);
    options[flag] = { type: spec.isFlag ? 'boolean' : 'string' };
    shapes[flag] = { type: spec.isFlag ? 'boolean' : 'string', expects: spec.syntax };
  }
  return { options, shapes };
}

/** `--pool gpu=1 --pool db=2` as `{ gpu: 1, db: 2 }`. */
function namedCounts(flag: string, given: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of (given as string[] | undefined) ?? []) {
    const m = /^([^=\s]+)=(\d+)$/.exec(item);
    if (!m || Number(m[2]) < 1) throw new UsageError(`--${flag} got "${item}"; expected NAME=N with N an integer >= 1, e.g. --${flag} gpu=1.`);
    out[m[1]] = Number(m[2]);
  }
  return out;
}

/** A flow parameter's value: the option, else (for a secret) its environment variable, else the default. */
function paramValue(family: string, name: string, spec: ParamSpecs[string], given: string | boolean | undefined, env: NodeJS.ProcessEnv): ParamValue {
  try {
    const fromEnv = spec.secret && given === undefined ? secretFromEnv(family, name, env) : undefined;
    const value = given ?? fromEnv;
    if (value === undefined) return spec.resolve(family, name, undefined);
    return typeof value === 'boolean' ? spec.resolve(family, name, value) : spec.parse(family, name, value);
  } catch (err) {
    const fix = `Pass --${toFlagName(name)} <${spec.syntax}>${spec.secret ? ` (or set ${secretEnvName(name)})` : ''}.`;
    throw new UsageError(`${(err as DagwrightError).message} ${fix}`, { cause: err });
  }
}

function positiveInt(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${flag} got "${text}"; expected an integer >= 1.`);
  return n;
}

/** `--store`: an S3 URI without a bucket, or an unknown scheme, is a usage error before anything runs. */
function checkedStore(store: string): string {
  checkStore(store);
  return store;
}

/** Parses a flow script's command line: its own parameters and the standard options. */
export function parseFlowArgs(flow: FlowDefinition, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ParsedArgs {
  let values: Record<string, string | boolean | string[] | undefined>;
  const { options: config, shapes } = parseConfig(flow.params);
  const args = normalizeArgs(argv, shapes);
  try {
    ({ values } = parseArgs({ args, options: config, strict: true, allowPositionals: false, allowNegative: true }) as {
      values: Record<string, string | boolean | string[] | undefined>;
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}. Run with --help to list the options.`);
  }
  const text = (key: keyof StandardOptions): string => (values[standard[key].flag] as string | undefined) ?? standard[key].default!;
  const executor = text('executor');
  if (!(executorNames as readonly string[]).includes(executor)) {
    throw new UsageError(`--executor got "${executor}"; expected one of ${executorNames.join(', ')}.`);
  }
  const logLevel = text('logLevel');
  if (!(logLevels as readonly string[]).includes(logLevel)) {
    throw new UsageError(`--log-level got "${logLevel}"; expected one of ${logLevels.join(', ')}.`);
  }
  const options: StandardOptions = {
    workers: positiveInt('workers', text('workers')),
    executor: executor as ExecutorName,
    store: checkedStore(text('store')),
    dryRun: values['dry-run'] === true,
    graph: values.graph === true,
    logLevel: logLevel as LogLevel,
    help: values.help === true,
    wait: values.wait === true,
    schedule: values.schedule as string | undefined,
    runTask: values['run-task'] as string | undefined,
    rerun: (values.rerun as string[] | undefined) ?? [],
    runName: runNameOf(values['run-name'] as string | undefined),
    pool: namedCounts('pool', values.pool),
    familyLimit: namedCounts('family-limit', values['family-limit']),
  };
  if (options.schedule !== undefined) checkSchedule(options.schedule);
  const params: Record<string, ParamValue> = {};
  if (options.help) return { params, options };
  const family = `flow ${flow.name ?? ''}`.trim();
  for (const [name, spec] of Object.entries(flow.params)) {
    params[name] = paramValue(family, name, spec, values[toFlagName(name)] as string | boolean | undefined, env);
  }
  return { params, options };
}

/** A run name: one line of at most 250 characters (the UI shows it as text). */
function runNameOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const name = value.trim();
  if (name === '' || name.length > 250 || /[\r\n]/.test(name)) throw new UsageError(`--run-name got ${JSON.stringify(value.slice(0, 60))}; expected one line of 1 to 250 characters.`);
  return name;
}

/** Turns parameter values back into command-line arguments (for a step re-run elsewhere); secrets are left out (see `encodeParamArgs`). */
export function paramsToArgs(specs: ParamSpecs, params: Record<string, ParamValue>): string[] {
  return encodeParamArgs(specs, params).args;
}

/** `--help`: the flow's parameters with their defaults, then the standard options. */
export function helpText(flow: FlowDefinition, script: string): string {
  const rows = (entries: [string, string, string | undefined][]) =>
    entries.map(([flag, help, def]) => `  ${flag.padEnd(28)} ${help}${def === undefined ? '' : ` (default: ${def})`}`);
  const params = Object.entries(flow.params).map(([name, spec]): [string, string, string | undefined] => [
    spec.isFlag ? `--[no-]${toFlagName(name)} [true|false]` : `--${toFlagName(name)} <value>`,
    `${spec.description ? `${spec.description}; ` : ''}${spec.syntax}${spec.default === undefined ? ', required' : ''}` +
      (spec.secret ? `; secret (or set ${secretEnvName(name)})` : ''),
    spec.default === undefined || spec.secret ? undefined : spec.toText(spec.default as never),
  ]);
  const options = Object.values(standard)
    .filter((o) => !o.hidden)
    .map((o): [string, string, string | undefined] => [`--${o.flag}${o.type === 'string' ? ' <value>' : ''}`, o.help, o.default]);
  return [
    `usage: ${script} [options]`,
    ...(flow.description ? ['', flow.description] : []),
    '',
    'flow parameters:',
    ...(params.length ? rows(params) : ['  (none)']),
    '',
    'standard options:',
    ...rows(options),
    '',
    'exit codes: 0 complete, 1 a task failed, 2 usage or configuration error, 66 external data missing,',
    '            75 another run holds the lock, 130 cancelled by SIGINT, 143 cancelled by SIGTERM',
    '',
  ].join('\n');
}
