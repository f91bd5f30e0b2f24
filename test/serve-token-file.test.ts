/**
 * `dagwright serve --token-file`: the bearer token read from a file, as a
 * Swarm or Docker secret mounts it (the Swarm model deployment passes it so
 * that `docker service inspect` never shows the token).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { serveOptions } from '../app/cli/serve';
import { UsageError } from '../src/errors';

const dir = mkdtempSync(join(tmpdir(), 'serve-token-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  writeFileSync(join(dir, name), content);
  return join(dir, name);
}

it('reads the token from the file, ignoring one trailing newline, and prefers it to the environment', () => {
  const path = file('token', 's3cr3t value\n');
  expect(serveOptions(['--token-file', path], { DAGWRIGHT_SERVE_TOKEN: 'from-env' }).token).toBe('s3cr3t value');
  expect(serveOptions(['--token-file', file('crlf', 'abc\r\n')], {}).token).toBe('abc');
});

it('refuses an unreadable or empty file, and --token beside it, as usage errors naming what to fix', () => {
  const missing = join(dir, 'no-such-file');
  expect(() => serveOptions(['--token-file', missing], {})).toThrow(UsageError);
  expect(() => serveOptions(['--token-file', missing], {})).toThrow(`--token-file ${missing}: cannot read it (ENOENT)`);
  expect(() => serveOptions(['--token-file', file('empty', '\n')], {})).toThrow(/is empty; put the token in it/);
  expect(() => serveOptions(['--token-file', file('t2', 'x'), '--token', 'y'], {})).toThrow(/--token and --token-file exclude each other/);
});
