/**
 * `npx ts-node flows/x.ts` (and `npm run`) start the flow under npm and its
 * `sh -c`: a SIGTERM sent to npx (a supervisor stopping it, `kill <npx pid>`)
 * ends npx and the shell but never reaches the flow, which would run on,
 * orphaned. A flow started by npm therefore watches its parent process: once
 * the parent is gone (the flow was re-parented), it sends itself SIGTERM and
 * cancels exactly as a SIGTERM would (no new task starts, running tasks are
 * aborted, nothing half-written is published, history says `cancelled`).
 *
 * Only under npm: a flow started from a shell outlives that shell on purpose
 * (`nohup`, `&`, `setsid`).
 */

/** How often the parent is looked at; a stop takes effect within this. */
const pollMs = 200;

/** True when npm (npx, npm exec, npm run) started this process: npm sets `npm_lifecycle_event` for what it runs. */
export function startedByNpm(env: NodeJS.ProcessEnv = process.env): boolean {
  return typeof env.npm_lifecycle_event === 'string' && env.npm_lifecycle_event !== '';
}

/**
 * Under npm, sends this process SIGTERM when its parent exits (after calling
 * `onExit`, to say why); call while a SIGTERM handler is installed. Returns
 * the function that stops watching. The timer never keeps the process alive.
 */
export function terminateWhenLauncherExits(onExit: (parentPid: number) => void = () => {}, env: NodeJS.ProcessEnv = process.env): () => void {
  const parent = process.ppid;
  if (!startedByNpm(env) || parent <= 1) return () => {};
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onExit(parent);
    process.kill(process.pid, 'SIGTERM');
  }, pollMs);
  timer.unref();
  return () => clearInterval(timer);
}
