import { availableParallelism } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DagwrightError, UsageError } from '../errors';
import { type LogLevel, logLevels } from '../logger';
import { type ParamSpecs, type ParamValue, toFlagName } from '../params';
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
  help: { flag: 'help', type: 'boolean', help: 'show this help' },
  runTask: { flag: 'run-task', type: 'string', help: 'run one task by id', hidden: true },
};

function parseConfig(specs: ParamSpecs): ParseArgsConfig['options'] {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const opt of Object.values(standard)) options[opt.flag] = { type: opt.type };
  for (const [name, spec] of Object.entries(specs)) {
    const flag = toFlagName(name);
    if (flag in options) throw new UsageError(`flow parameter "${name}" clashes with the standard option --${flag}; rename it.`);
    options[flag] = { type: spec.isFlag ? 'boolean' : 'string' };
  }
  return options;
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
export function parseFlowArgs(flow: FlowDefinition, argv: readonly string[]): ParsedArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options: parseConfig(flow.params), strict: true, allowPositionals: false, allowNegative: true }) as {
      values: Record<string, string | boolean | undefined>;
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
  };
  if (options.schedule !== undefined) checkSchedule(options.schedule);
  const params: Record<string, ParamValue> = {};
  if (options.help) return { params, options };
  const family = `flow ${flow.name ?? ''}`.trim();
  for (const [name, spec] of Object.entries(flow.params)) {
    const given = values[toFlagName(name)];
    try {
      params[name] =
        given === undefined ? spec.resolve(family, name, undefined) : typeof given === 'boolean' ? spec.resolve(family, name, given) : spec.parse(family, name, given);
    } catch (err) {
      const fix = `Pass --${toFlagName(name)} <${spec.expected}>.`;
      throw new UsageError(`${(err as DagwrightError).message} ${fix}`, { cause: err });
    }
  }
  return { params, options };
}

/** Turns parameter values back into command-line arguments (for a step re-run elsewhere). */
export function paramsToArgs(specs: ParamSpecs, params: Record<string, ParamValue>): string[] {
  return Object.keys(specs).flatMap((name) => {
    const value = params[name];
    const flag = toFlagName(name);
    if (typeof value === 'boolean') return [value ? `--${flag}` : `--no-${flag}`];
    return [`--${flag}`, String(value)];
  });
}

/** `--help`: the flow's parameters with their defaults, then the standard options. */
export function helpText(flow: FlowDefinition, script: string): string {
  const rows = (entries: [string, string, string | undefined][]) =>
    entries.map(([flag, help, def]) => `  ${flag.padEnd(28)} ${help}${def === undefined ? '' : ` (default: ${def})`}`);
  const params = Object.entries(flow.params).map(([name, spec]): [string, string, string | undefined] => [
    `--${toFlagName(name)}${spec.isFlag ? '' : ' <value>'}`,
    `${spec.description ? `${spec.description}; ` : ''}${spec.expected}${spec.default === undefined ? ', required' : ''}`,
    spec.default === undefined ? undefined : String(spec.default),
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
    'exit codes: 0 complete, 1 a task failed, 2 usage or configuration error, 75 another run holds the lock,',
    '            130 cancelled by SIGINT, 143 cancelled by SIGTERM',
    '',
  ].join('\n');
}
