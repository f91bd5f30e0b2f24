import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const repoRoot = resolve(__dirname, '../..');

export interface FlowResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stderr's JSON log lines, parsed. */
  logs: Record<string, unknown>[];
}

/** Starts a flow script in a child process (ts-node, transpile-only: the suite type-checks once). */
export function startFlow(script: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<FlowResult> } {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', resolve(repoRoot, script), ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env, TS_NODE_TRANSPILE_ONLY: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<FlowResult>((resolveDone) => {
    child.on('close', (code, signal) => {
      const logs = stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      resolveDone({ code, signal, stdout, stderr, logs });
    });
  });
  return { child, done };
}

export function runFlowProcess(script: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<FlowResult> {
  return startFlow(script, args, env).done;
}

/** Pids of the direct children of `pid` (from /proc), e.g. the flow's reaper. */
export function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1].split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}
