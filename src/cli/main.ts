import { UsageError } from '../errors';
import { pruneCommand } from './prune';
import { serveCommand } from './serve';
import { runsCommand, type CommandIo } from './runs';

interface Command {
  readonly summary: string;
  run(argv: readonly string[], io: CommandIo): Promise<number>;
}

/**
 * The `dagwright` command's subcommands. Flows are not run from here: each
 * flow is its own script (see runFlow), which keeps its parameters typed.
 */
const commands: Record<string, Command> = {
  runs: { summary: 'list recent runs and show one (run history in the store)', run: runsCommand },
  prune: { summary: 'remove step containers that crashed or killed flows left behind (Docker)', run: pruneCommand },
  serve: { summary: 'serve a registry model over HTTP (Open Inference Protocol V2, MLflow), swapping when its alias moves', run: serveCommand },
};

function usage(): string {
  const rows = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return ['usage: dagwright <command> [options]', '', 'commands:', ...rows, '', 'Run "dagwright <command> --help" for its options.', ''].join('\n');
}

/** Runs the `dagwright` command line; returns the exit code (0 ok, 1 failed, 2 usage). */
export async function main(argv: readonly string[], io: CommandIo = { out: (text) => process.stdout.write(text) }): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`error: unknown command "${name}".\n${usage()}`);
    return 2;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
