import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from './helpers/flow-process';

const store = mkdtempSync(join(tmpdir(), 'dagwright-ui-cli-'));
afterAll(() => rmSync(store, { recursive: true, force: true }));

function dagwright(args: string[]) {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', resolve(repoRoot, 'app/cli/main.ts'), ...args], { cwd: repoRoot, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { child, done, out: () => stdout, err: () => stderr };
}

describe('dagwright ui', () => {
  it('prints its URL with the write token, serves 127.0.0.1, refuses writes without the token, stops on SIGTERM with 0', async () => {
    const ui = dagwright(['ui', '--store', store, '--port', '0']);
    let url: string | undefined;
    for (let i = 0; i < 300 && !url; i++) {
      await new Promise((r) => setTimeout(r, 50));
      url = /open (http:\/\/127\.0\.0\.1:\d+\/\?token=([0-9a-f]{48}))/.exec(ui.out())?.[1];
    }
    expect(url, ui.err()).toBeDefined();
    const { origin, searchParams } = new URL(url!);
    const token = searchParams.get('token')!;
    expect(ui.err()).not.toContain(token);
    expect((await fetch(`${origin}/runs`)).status).toBe(200);
    const post = (headers: Record<string, string>) => fetch(`${origin}/registry/mnist-digits/alias`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: 'alias=champion&version=1' });
    expect((await post({})).status).toBe(403);
    expect((await post({ authorization: 'Bearer wrong-token' })).status).toBe(403);
    // With the token the write goes through to the registry, which has no such model here.
    expect((await post({ authorization: `Bearer ${token}` })).status).toBe(404);
    ui.child.kill('SIGTERM');
    expect(await ui.done).toBe(0);
  }, 60_000);

  it('exits 2 for a bad option and 1 when its port is taken, with one line saying why', async () => {
    const bad = dagwright(['ui', '--port', 'eighty']);
    expect(await bad.done).toBe(2);
    expect(bad.err()).toContain('--port got "eighty"');
    const first = dagwright(['ui', '--store', store, '--port', '0']);
    let port: string | undefined;
    for (let i = 0; i < 300 && !port; i++) {
      await new Promise((r) => setTimeout(r, 50));
      port = /127\.0\.0\.1:(\d+)/.exec(first.out())?.[1];
    }
    const second = dagwright(['ui', '--store', store, '--port', port!]);
    expect(await second.done).toBe(1);
    expect(second.err()).toMatch(/is in use; choose another port with --port/);
    expect(second.err()).not.toMatch(/\n\s+at /);
    first.child.kill('SIGTERM');
    expect(await first.done).toBe(0);
  }, 60_000);

  it('npx dagwright ui: SIGTERM to npx alone stops the UI and frees its port', async () => {
    // npx does not pass the signal on to the node process it started: the UI must notice npx is gone.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_')));
    const child = spawn('npx', ['dagwright', 'ui', '--store', store, '--port', '0'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    try {
      let origin: string | undefined;
      for (let i = 0; i < 600 && !origin; i++) {
        await new Promise((r) => setTimeout(r, 50));
        origin = /open (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      }
      expect(origin, out).toBeDefined();
      expect((await fetch(`${origin}/health`)).status).toBe(200);
      child.kill('SIGTERM');
      let free = false;
      for (let i = 0; i < 100 && !free; i++) {
        await new Promise((r) => setTimeout(r, 100));
        free = await fetch(`${origin}/health`).then(() => false, () => true);
      }
      expect(free, `the UI still answers at ${origin} after npx was stopped:\n${out}`).toBe(true);
      expect(out).toContain('the launcher');
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);
});
