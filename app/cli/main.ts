import { type Command, type CommandIo, CommandExit, runCommand } from './command';
import { pruneCommand } from './prune';
import { runsCommand } from './runs';
import { terminateWhenLauncherExits } from '../../src/flow/launcher-exit';

/** A subcommand's module, loaded when it is chosen: `serve` and `ui` pull in fastify, which `dagwright runs` never needs. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const lazy = <M>(path: string): M => require(path) as M;

/**
 * The `dagwright` command's subcommands, one entry each: a summary for
 * `dagwright --help` and the function that runs it (argv after the name, io;
 * returns the exit code). Store parsing (`commandStore`), option parsing,
 * help and exit codes are shared through ./command.
 */
const commands: Record<string, Command> = {
  runs: { summary: 'list recent runs and show one (run history in the store)', run: runsCommand },
  prune: { summary: 'remove step containers and Swarm services that crashed or killed flows left behind', run: pruneCommand },
  registry: { summary: 'the model registry: list, show, alias, tag versions', run: (argv, io) => lazy<typeof import('./registry')>('./registry').registryCli(argv, io.out, io.err) },
  serve: { summary: 'serve a registry model over HTTP (Open Inference Protocol V2, MLflow), swapping when its alias moves', run: (argv, io) => lazy<typeof import('./serve')>('./serve').serveCommand(argv, io) },
  run: { summary: 'run a task class exported by a module as a flow: dagwright run <module> <TaskClass> --param value ...', run: (argv, io) => lazy<typeof import('./run')>('./run').runTaskCommand(argv, io) },
  labels: { summary: 'labels for served predictions by id (import CSV/JSONL), realized accuracy per window and version', run: (argv, io) => lazy<typeof import('./labels')>('./labels').labelsCommand(argv, io) },
  serving: { summary: 'serving history: deployments, swaps and per-minute counters of a model\'s servers (dagwright serving history)', run: (argv, io) => lazy<typeof import('./serving')>('./serving').servingHistoryCommand(argv, io) },
  ui: { summary: 'the web UI over a store: runs, experiments, registry, serving and drift, labelling', run: (argv, io) => lazy<typeof import('./ui')>('./ui').uiCommand(argv, io) },
};

function usage(): string {
  const rows = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return [
    'usage: dagwright <command> [options]',
    '',
    'commands:',
    ...rows,
    '',
    'Run "dagwright <command> --help" for its options. Flows are their own scripts: npx ts-node flows/<flow>.ts --help.',
    'exit codes: 0 done, 1 something failed, 2 usage or configuration error',
    '',
  ].join('\n');
}

/** Runs the `dagwright` command line; returns the exit code (0 ok, 1 failed, 2 usage). */
export async function main(argv: readonly string[], io: CommandIo = { out: (text) => process.stdout.write(text) }): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return name === undefined ? CommandExit.usage : CommandExit.ok;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    (io.err ?? ((text: string) => process.stderr.write(text)))(`error: unknown command "${name}".\n${usage()}`);
    return CommandExit.usage;
  }
  // Under npx a SIGTERM ends npx and its shell, never this process: the servers would keep the port. As flows
  // do, they stop (as on SIGTERM) once the launcher is gone.
  const stopWatching = foreground.has(name) ? terminateWhenLauncherExits((parent) => process.stderr.write(`dagwright ${name}: the launcher (pid ${parent}) exited; stopping as on SIGTERM\n`)) : undefined;
  try {
    return await runCommand(command, rest, io);
  } finally {
    stopWatching?.();
  }
}

/** Commands that run until stopped. */
const foreground = new Set(['ui', 'serve']);

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
