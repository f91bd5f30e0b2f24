/**
 * `dagwright ui`: the web UI over a store, in the foreground until SIGINT or
 * SIGTERM. Prints the URL with its write token at start-up, as Jupyter does.
 *
 *   dagwright ui --store ./data
 *   dagwright ui --store s3://bucket/store --read-only --port 9000
 *   dagwright ui --store ./data --server http://127.0.0.1:8080   # the serving page reads that server's /metrics
 */
import { UsageError } from '../../src/errors';
import { createLogger, type LogLevel, logLevels } from '../../src/logger';
import { runInForeground } from '../../src/services/service';
import { UiServer } from '../ui/ui-server';
import { type CommandIo, commandStore, parseCommandArgs, storeHelp, storeOption } from './command';

export const uiUsage = `usage: dagwright ui [options]

A web UI over the store: runs (DAG, timeline, logs, tracked params and metrics, live
while a run goes on), experiments, the model registry, serving and drift, labelling.

  ${storeHelp}
  --host <address>     default 127.0.0.1 (another address exposes the UI to that network)
  --port <n>           default 8765 (0: any free port)
  --read-only          turn every write action off (moving aliases, saving labels)
  --token <secret>     the write token (default: a fresh random one, printed at start-up; or set DAGWRIGHT_UI_TOKEN)
  --server <url>       a model server (dagwright serve) whose /metrics the serving page shows
  --log-level <level>  ${logLevels.join(', ')} (default info)

Write actions need the token: open the printed URL (it hands the browser the token as a
cookie) or send "Authorization: Bearer <token>". Exit codes: 0 stopped by SIGINT/SIGTERM,
1 could not start (port in use), 2 usage error.
`;

/** The `ui` command: returns the exit code once the server stopped. */
export async function uiCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { ...storeOption, host: { type: 'string' }, port: { type: 'string' }, 'read-only': { type: 'boolean' }, token: { type: 'string' }, server: { type: 'string' }, 'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    uiUsage,
  );
  if (values.help) {
    io.out(uiUsage);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`ui takes no arguments, got "${positionals.join(' ')}".\n${uiUsage}`);
  const port = values.port === undefined ? 8765 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port got "${String(values.port)}"; expected a port number 0-65535.`);
  const level = (values['log-level'] ?? 'info') as LogLevel;
  if (!logLevels.includes(level)) throw new UsageError(`--log-level got "${level}"; expected one of ${logLevels.join(', ')}.`);
  const server = values.server as string | undefined;
  if (server !== undefined && !/^https?:\/\/[^/\s]+/.test(server)) throw new UsageError(`--server got "${server}"; expected a URL such as http://127.0.0.1:8080.`);
  const token = (values.token as string | undefined) ?? process.env.DAGWRIGHT_UI_TOKEN;
  if (token !== undefined && token.length < 16) throw new UsageError('--token must be at least 16 characters.');
  const store = commandStore(values.store as string | undefined);
  const logger = createLogger({ level });
  const ui = new UiServer({
    store,
    host: (values.host as string | undefined) ?? '127.0.0.1',
    port,
    readOnly: values['read-only'] === true,
    ...(token ? { token } : {}),
    ...(server ? { serverUrl: server } : {}),
    logger,
  });
  try {
    await ui.start();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const where = `${(values.host as string | undefined) ?? '127.0.0.1'}:${port}`;
    if (code === 'EADDRINUSE') throw new Error(`${where} is in use; choose another port with --port (0 picks a free one).`);
    if (code === 'EADDRNOTAVAIL' || code === 'EACCES') throw new Error(`cannot listen on ${where} (${code}); check --host and --port.`);
    throw err;
  }
  // The token goes to the terminal only, never into a log line.
  io.out(`dagwright UI for ${store}${values['read-only'] ? ' (read-only)' : ''}\n  open ${values['read-only'] ? ui.url : ui.startUrl}\n`);
  return runInForeground(ui, logger);
}
