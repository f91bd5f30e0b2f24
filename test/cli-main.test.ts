import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const repoRoot = resolve(__dirname, '..');

/** The `dagwright` command as users start it (bin/dagwright.js, which `npx dagwright` runs). */
function dagwright(...args: string[]) {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'dagwright.js'), ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the dagwright command', () => {
  it('--help lists every subcommand and the exit codes', () => {
    const { code, stdout } = dagwright('--help');
    expect(code).toBe(0);
    for (const name of ['runs', 'prune', 'registry']) expect(stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
    expect(stdout).toContain('exit codes: 0 done, 1 something failed, 2 usage or configuration error');
  });

  it('shares store parsing: a --store that is a file is exit 2 with one line naming it, in every subcommand', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'dagwright-cli-')), 'not-a-folder');
    await writeFile(file, 'x');
    for (const args of [['runs', 'list'], ['registry', 'list']]) {
      const { code, stderr } = dagwright(...args, '--store', file);
      expect(code, args.join(' ')).toBe(2);
      expect(stderr).toContain(`--store ${file} is a file, not a folder`);
      expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  });

  it('an unknown command or option is a usage error (exit 2) with the usage', () => {
    const unknown = dagwright('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    const badOption = dagwright('prune', '--bogus');
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toContain("Unknown option '--bogus'");
    expect(badOption.stderr).toContain('usage: dagwright prune');
    const badPort = dagwright('prune', '--servers', '--port', 'eighty');
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toContain('--port must be a port number 1-65535, got "eighty"');
  });
});
