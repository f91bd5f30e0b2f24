/**
 * A client of the model-server replicas, run as its own process on a cluster
 * host (in its network namespace: `clientOnHost`): for each replica URL, two
 * loops that send one inference request after another over kept-alive
 * connections (fetch's pool, one per origin), each with a 5 s deadline. Every
 * answer is printed as a JSON line `{ replica, outcome, at }`: `outcome` is
 * `v<version>`, `status <code>` or `error <cause>`; `at` is epoch ms. SIGTERM
 * stops the loops after the requests in flight.
 *
 *   node -r ts-node/register/transpile-only test/helpers/cluster-serving-client.ts BODY_FILE URL...
 *   (the bearer token from DAGWRIGHT_SERVE_TOKEN, never on the command line)
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { HostState } from './cluster-hosts';

export interface Answer {
  readonly replica: string;
  readonly outcome: string;
  readonly at: number;
}

async function ask(url: string, body: string, token: string): Promise<string> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body,
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    return res.status === 200 ? `v${(JSON.parse(text) as { model_version: string }).model_version}` : `status ${res.status}`;
  } catch (err) {
    const cause = (err as Error & { cause?: { code?: string } }).cause;
    return `error ${cause?.code ?? (err as Error).name}`;
  }
}

async function main(): Promise<void> {
  const [bodyFile, ...urls] = process.argv.slice(2);
  const body = readFileSync(bodyFile, 'utf8');
  const token = process.env.DAGWRIGHT_SERVE_TOKEN ?? '';
  let running = true;
  process.once('SIGTERM', () => (running = false));
  const loop = async (url: string) => {
    while (running) {
      const outcome = await ask(url, body, token);
      process.stdout.write(`${JSON.stringify({ replica: new URL(url).hostname, outcome, at: Date.now() })}\n`);
    }
  };
  await Promise.all(urls.flatMap((url) => [loop(url), loop(url)]));
}

/** Starts the client in `host`'s network namespace; `stop()` ends it and gives every answer in order. */
export function clientOnHost(host: HostState, bodyFile: string, urls: readonly string[], token: string): { answers: Answer[]; stop: () => Promise<Answer[]> } {
  const script = resolve(__dirname, 'cluster-serving-client.ts');
  const child = spawn('nsenter', [`--net=/var/run/netns/${host.netns}`, process.execPath, '-r', 'ts-node/register/transpile-only', script, bodyFile, ...urls], {
    cwd: resolve(__dirname, '../..'),
    env: { ...process.env, DAGWRIGHT_SERVE_TOKEN: token },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const answers: Answer[] = [];
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (pending + chunk.toString('utf8')).split('\n');
    pending = lines.pop()!;
    for (const line of lines.filter(Boolean)) answers.push(JSON.parse(line) as Answer);
  });
  const exited = new Promise<void>((done) => child.on('close', () => done()));
  return {
    answers,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      return answers;
    },
  };
}

if (require.main === module) {
  // Exit at once: idle kept-alive sockets would hold the process for seconds.
  main().then(() => process.exit(0), (err: unknown) => {
    process.stderr.write(`serving client: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
