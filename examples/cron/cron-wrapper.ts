/**
 * Runs a flow script from cron and acts on its exit code: quiet when all is
 * well or when the previous run is still going, loud (stderr, so cron mails
 * it) when something needs a person. The flow's own JSON logs go to a file.
 *
 *   node -r ts-node/register/transpile-only examples/cron/cron-wrapper.ts flows/register.ts --store s3://models/mnist
 *
 * The flow is started with an argument array, never through a shell, so no
 * argument is ever re-parsed or expanded.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { ExitCode } from '../../src';

const [flow, ...args] = process.argv.slice(2);
if (!flow) {
  process.stderr.write('usage: cron-wrapper.ts <flow script> [flow options...]\n');
  process.exit(ExitCode.usage);
}
const logFile = process.env.DAGWRIGHT_CRON_LOG ?? '/var/log/dagwright.jsonl';
const log = createWriteStream(logFile, { flags: 'a' });

const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', flow, ...args], { stdio: ['ignore', 'inherit', 'pipe'] });
child.stderr.pipe(log);
child.on('close', (code, signal) => {
  const say = (text: string) => process.stderr.write(`${new Date().toISOString()} ${flow}: ${text} (log: ${logFile})\n`);
  switch (code) {
    case ExitCode.ok:
      process.exitCode = 0;
      break;
    case ExitCode.locked:
      // The previous run is still going: nothing ran, nothing to report.
      process.exitCode = 0;
      break;
    case ExitCode.taskFailed:
      say('a task failed; `dagwright runs show latest --store ...` lists the failures');
      process.exitCode = 1;
      break;
    case ExitCode.usage:
      say('bad options or configuration: nothing ran; fix the crontab line');
      process.exitCode = 2;
      break;
    case ExitCode.interrupted:
    case ExitCode.terminated:
      say('cancelled by a signal (shutdown?); the next run resumes where it stopped');
      process.exitCode = code;
      break;
    default:
      say(`ended unexpectedly (exit code ${code}, signal ${signal}): killed? the next run resumes where it stopped`);
      process.exitCode = 1;
  }
});
