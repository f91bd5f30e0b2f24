import { resolve } from 'node:path';
import { UsageError } from '../../src/errors';
import { runFlow } from '../../src/flow/run-flow';
import { isTaskClass, type TaskClass } from '../../src/task';
import { familyOf } from '../../src/task-classes';
import type { CommandIo } from './command';

const usage = `usage: dagwright run <module> <TaskClass> [--param value ...] [flow options]

Runs one task class exported by a module (a .ts or .js file, relative to the
current folder) as a flow: its parameters become options (kebab-case), with
the standard flow options (--store, --executor, --workers, --rerun, --pool,
--dry-run, ...). The module should export tasks, not run a flow when loaded.
  dagwright run tasks/report.ts DailyReport --day 2026-11-01 --store ./data
Exit codes as for flow scripts: 0, 1, 2, 66, 75, 130, 143.
`;

/** The task classes a module exports, by export name. */
function exportedTasks(mod: unknown): Map<string, TaskClass> {
  const found = new Map<string, TaskClass>();
  if (isTaskClass(mod)) found.set(mod.name, mod);
  if (typeof mod === 'object' && mod !== null) {
    for (const [name, value] of Object.entries(mod)) if (isTaskClass(value)) found.set(name, value);
  }
  return found;
}

/** Loads `modulePath` and picks `name` (an export name or a family) from its task classes. */
export function loadTaskClass(modulePath: string, name: string): TaskClass {
  const path = resolve(process.cwd(), modulePath);
  let mod: unknown;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'MODULE_NOT_FOUND' && String((err as Error).message).includes(path) ? 'no such file' : (err as Error).message.split('\n')[0];
    throw new UsageError(`dagwright run: cannot load module ${modulePath}: ${why}.`);
  }
  const tasks = exportedTasks(mod);
  const cls = tasks.get(name) ?? [...tasks.values()].find((c) => familyOf(c) === name);
  if (!cls) {
    const known = [...tasks.keys()].join(', ') || 'none';
    throw new UsageError(`dagwright run: ${modulePath} exports no task class "${name}" (its task classes: ${known}).`);
  }
  return cls;
}

/** `dagwright run <module> <TaskClass> ...`: a task class as a flow, without writing a flow script. */
export async function runTaskCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const [modulePath, className, ...rest] = argv;
  if (modulePath === undefined || modulePath === '--help' || modulePath === '-h' || className === undefined || className.startsWith('-')) {
    io.out(usage);
    return modulePath === '--help' || modulePath === '-h' ? 0 : 2;
  }
  const cls = loadTaskClass(modulePath, className);
  // Container steps start this command again: `dagwright run <module> <TaskClass> <params> --run-task <id>`.
  return runFlow(cls, { argv: rest, exit: false, stepArgs: ['run', modulePath, className] });
}
