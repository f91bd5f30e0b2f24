import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type FlowResult, repoRoot, startFlow } from './flow-process';

export const cronFlow = 'test/fixtures/cron-flow.ts';

/** Polls `check` until it returns true; fails after `timeoutMs`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Lines of `<store>/ran.log`: one per task start. */
export async function ranLog(store: string): Promise<string[]> {
  return (await readFile(join(store, 'ran.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
}

/** Runs `bin/dagwright.js` (the shim: compiled CLI when built, else the TypeScript source). */
export function dagwright(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'dagwright.js'), ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** A pid that belonged to a process which has exited. */
export async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((r) => child.on('exit', r));
  return child.pid!;
}

const started = new Set<ChildProcess>();

/** `startFlow` for the cron fixture, remembered so `killLeftovers` can end it if a test fails halfway. */
export function startCronFlow(args: readonly string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<FlowResult> } {
  const run = startFlow(cronFlow, args, env);
  started.add(run.child);
  void run.done.then(() => started.delete(run.child));
  return run;
}

/** Kills, by pid, the flow processes a test started that are still running. */
export function killLeftovers(): void {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  started.clear();
}
