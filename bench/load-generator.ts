/**
 * HTTP load for bench/serve.ts: autocannon in this process (the default), or
 * `wrk` (a C load generator, Debian's `wrk` package) in its own process;
 * `auto` is wrk when installed, else autocannon.
 *
 * On a 2-core machine the generator shares the cores with the server, so
 * each load also reports the generator's own CPU a request. Measured in one
 * run (load 2-5, 64 connections, one FP32 image a request): wrk 29 us a
 * request, autocannon 53 us; yet our server answered 3,207 req/s under wrk
 * and 3,313 under autocannon, at 340 and 250 us of server CPU a request, and
 * a bare Node.js http server 10,009 and 18,296 req/s. So autocannon stays
 * the default, and wrk is there to check a figure against a second
 * generator. Every load of one run uses the same generator, and the bench
 * names it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const LOAD_GENERATORS = ['auto', 'wrk', 'autocannon'] as const;
export type LoadGeneratorName = (typeof LOAD_GENERATORS)[number];

/** One load's figures. */
export interface Load {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  /** Socket errors, timeouts and non-2xx answers. */
  readonly errors: number;
  readonly requests: number;
  /** CPU microseconds (user + system) the load generator itself spent a request. */
  readonly generatorCpuUs: number;
}

/** A request body and the headers that say what it is. */
export interface Body {
  readonly body: string | Buffer;
  readonly headers: Record<string, string>;
}

export interface LoadGenerator {
  readonly name: 'wrk' | 'autocannon';
  /** POSTs `body` to `url` from `connections` connections for `seconds`. */
  run(url: string, connections: number, body: Body, seconds: number): Promise<Load>;
  close(): void;
}

// autocannon ships no types; the part used here:
interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}
type AutocannonOptions = { url: string; method: string; headers: Record<string, string>; body: string | Buffer; connections: number; duration: number };

function autocannonGenerator(): LoadGenerator {
  const autocannon = require('autocannon') as (options: AutocannonOptions, done: (err: Error | null, result: AutocannonResult) => void) => unknown;
  const run = (url: string, connections: number, { body, headers }: Body, seconds: number) =>
    new Promise<Load>((resolve, reject) => {
      // This process does nothing else while autocannon runs: its CPU time is the generator's.
      const cpu = process.cpuUsage();
      autocannon({ url, method: 'POST', headers, body, connections, duration: seconds }, (err, result) => {
        if (err) return reject(err);
        const used = process.cpuUsage(cpu);
        const errors = result.errors + result.timeouts + result.non2xx;
        const requests = result.requests.total;
        resolve({ rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors, requests, generatorCpuUs: (used.user + used.system) / requests });
      });
    });
  return { name: 'autocannon', run, close: () => undefined };
}

/** wrk's script: the body from a file (it may be binary), the headers, and the summary as one JSON line. */
const WRK_SCRIPT = `
local file = io.open(os.getenv("BENCH_BODY_FILE"), "rb")
wrk.body = file:read("*a")
file:close()
wrk.method = "POST"
for name, value in string.gmatch(os.getenv("BENCH_HEADERS"), "([^\\n:]+): ([^\\n]*)") do wrk.headers[name] = value end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\n{"requests":%d,"seconds":%.6f,"p50_us":%d,"p99_us":%d,"socket_errors":%d,"timeouts":%d,"non2xx":%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write, e.timeout, e.status))
end
`;

function wrkGenerator(): LoadGenerator {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-wrk-'));
  const script = path.join(dir, 'post.lua');
  writeFileSync(script, WRK_SCRIPT);
  let bodies = 0;
  const run = async (url: string, connections: number, { body, headers }: Body, seconds: number): Promise<Load> => {
    const bodyFile = path.join(dir, `body-${bodies++}`);
    writeFileSync(bodyFile, body);
    const env = { ...process.env, BENCH_BODY_FILE: bodyFile, BENCH_HEADERS: Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\n') };
    // One thread: wrk's event loop keeps 64 connections busy on one core, and leaves the other to the server.
    // Run by bash, whose `times` then prints wrk's CPU time (user and system) as its child's.
    const args = ['-c', 'wrk "$@" && times', 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', script, url];
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn('bash', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk exited with ${code}: ${out}`))));
    });
    const lines = output.trim().split('\n');
    const s = JSON.parse(lines.find((l) => l.startsWith('{"requests"')) ?? '') as { requests: number; seconds: number; p50_us: number; p99_us: number; socket_errors: number; timeouts: number; non2xx: number };
    // `times`: this shell's user and system time, then its children's ("0m1.234s 0m0.567s").
    const timeOf = (text: string) => [...text.matchAll(/(\d+)m([\d.]+)s/g)].reduce((t, m) => t + Number(m[1]) * 60 + Number(m[2]), 0);
    const generatorCpuUs = (timeOf(lines.at(-1) ?? '') * 1e6) / s.requests;
    return { rps: s.requests / s.seconds, p50: s.p50_us / 1000, p99: s.p99_us / 1000, errors: s.socket_errors + s.timeouts + s.non2xx, requests: s.requests, generatorCpuUs };
  };
  return { name: 'wrk', run, close: () => rmSync(dir, { recursive: true, force: true }) };
}

function wrkInstalled(): boolean {
  const probe = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  return probe.error === undefined && /wrk/.test(`${probe.stdout}${probe.stderr}`);
}

/** The generator asked for; `auto` is wrk when installed, else autocannon. */
export function loadGenerator(name: LoadGeneratorName): LoadGenerator {
  if (name === 'autocannon' || (name === 'auto' && !wrkInstalled())) return autocannonGenerator();
  if (name === 'wrk' && !wrkInstalled()) throw new Error('--load-generator wrk: wrk is not installed (apt-get install wrk), or pass --load-generator autocannon');
  return wrkGenerator();
}
