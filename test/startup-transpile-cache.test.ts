import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { repoRoot } from './helpers/flow-process';

// The compiled-JavaScript cache behind `npx ts-node` (tsconfig's ts-node transpiler)
// and `node -r src/bootstrap/register`: what a user relies on is that an edit is
// always picked up, syntax errors are shown with file and line, stack traces
// name TypeScript lines, and a warm start does not load the TypeScript compiler.

const register = join(repoRoot, 'src', 'bootstrap', 'register.js');
const tsNode = join(repoRoot, 'node_modules', '.bin', 'ts-node');

let project: string;
let cache: string;

beforeEach(async () => {
  project = await mkdtemp(join(tmpdir(), 'dagwright-ts-cache-project-'));
  cache = await mkdtemp(join(tmpdir(), 'dagwright-ts-cache-'));
  const tsconfig = {
    compilerOptions: { target: 'es2022', module: 'commonjs', strict: true, esModuleInterop: true, types: ['node'] },
    'ts-node': { transpileOnly: true, transpiler: join(repoRoot, 'src', 'bootstrap', 'ts-node-transpiler.js') },
  };
  await writeFile(join(project, 'tsconfig.json'), JSON.stringify(tsconfig));
  await writeFile(
    join(project, 'main.ts'),
    [
      "import { greet } from './greet';",
      'interface Shown { text: string }',
      "const shown: Shown = { text: greet('flow') };",
      "const compilerLoaded = Object.keys(require.cache).some((f) => f.includes('/node_modules/typescript/'));",
      'console.log(JSON.stringify({ ...shown, compilerLoaded }));',
    ].join('\n'),
  );
  await writeGreet('hello');
});

afterEach(async () => {
  await rm(project, { recursive: true, force: true });
  await rm(cache, { recursive: true, force: true });
});

function writeGreet(word: string): Promise<void> {
  return writeFile(join(project, 'greet.ts'), `export function greet(name: string): string {\n  return '${word} ' + name;\n}\n`);
}

function run(command: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const child = spawnSync(command, args, { cwd: project, env: { ...process.env, DAGWRIGHT_TS_CACHE_DIR: cache }, encoding: 'utf8' });
  return { code: child.status, stdout: child.stdout, stderr: child.stderr };
}

function runMain(command: 'node' | 'ts-node'): { text: string; compilerLoaded: boolean } {
  const result = command === 'node' ? run(process.execPath, ['-r', register, 'main.ts']) : run(tsNode, ['main.ts']);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as { text: string; compilerLoaded: boolean };
}

const entries = async () => (await readdir(cache)).filter((f) => f.endsWith('.json'));

describe('the compiled-JavaScript cache', () => {
  it('compiles on the first start, not on the next; an edited file is compiled again', async () => {
    expect(runMain('node')).toEqual({ text: 'hello flow', compilerLoaded: true });
    expect(await entries()).toHaveLength(2);
    expect(runMain('node')).toEqual({ text: 'hello flow', compilerLoaded: false });

    await writeGreet('hi');
    expect(runMain('node')).toEqual({ text: 'hi flow', compilerLoaded: true });
    expect(runMain('node')).toEqual({ text: 'hi flow', compilerLoaded: false });
    expect(await entries()).toHaveLength(3);
  }, 60_000);

  it('is shared: what ts-node compiled, node -r register runs without the compiler', async () => {
    await writeGreet('shared');
    expect(runMain('ts-node').text).toBe('shared flow');
    expect(await entries()).toHaveLength(2);
    expect(runMain('node')).toEqual({ text: 'shared flow', compilerLoaded: false });
  }, 60_000);

  it('reports a syntax error with file, line and column, and caches nothing for it', async () => {
    await writeFile(join(project, 'greet.ts'), 'export function greet(name: string): string {\n  return name +;\n}\n');
    const broken = run(process.execPath, ['-r', register, 'main.ts']);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain(`${join(project, 'greet.ts')}:2:16: error TS1109: Expression expected.`);
    const viaTsNode = run(tsNode, ['main.ts']);
    expect(viaTsNode.code).toBe(1);
    expect(viaTsNode.stderr).toContain('greet.ts(2,16): error TS1109: Expression expected.');
    expect(await entries()).toHaveLength(1); // main.ts only

    await writeGreet('fixed');
    expect(runMain('node').text).toBe('fixed flow');
  }, 60_000);

  it('stack traces name the TypeScript file and line, warm or cold', async () => {
    // Type-only lines vanish from the JavaScript: without source maps the line would be wrong.
    await writeFile(
      join(project, 'fail.ts'),
      ['interface A { a: number }', 'type B = A & { b: string };', '', 'function fail(): never {', "  throw new Error('failed here');", '}', 'fail();', ''].join('\n'),
    );
    for (const _start of ['cold', 'warm']) {
      const failed = run(process.execPath, ['-r', register, 'fail.ts']);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain('Error: failed here');
      expect(failed.stderr).toContain(`${join(project, 'fail.ts')}:5:9`);
    }
  }, 60_000);
});
