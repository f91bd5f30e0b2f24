/**
 * The project's import graph as TypeScript itself reads it (`ts.preProcessFile`:
 * static imports, `export ... from`, `import()` and `require()` of a literal),
 * for the architecture test. Paths are relative to the repository, with `/`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { Graph, alg } from '@dagrejs/graphlib';
import ts from 'typescript';

export interface ImportEdge {
  from: string;
  to: string;
}

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|js)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

function resolveImport(fromFile: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined; // a package, not ours
  const base = resolve(dirname(fromFile), specifier);
  for (const candidate of [`${base}.ts`, `${base}.js`, join(base, 'index.ts'), base]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return `${base}.ts`; // unresolved: still an arrow, so a rule about its folder can see it
}

const posix = (path: string) => path.split(sep).join('/');

/** Every relative import of every source file under `folders` (repository-relative). */
export function importEdges(repoRoot: string, folders: readonly string[]): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of folders.flatMap((folder) => sourceFiles(join(repoRoot, folder)))) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      const target = resolveImport(file, fileName);
      if (target) edges.push({ from: posix(relative(repoRoot, file)), to: posix(relative(repoRoot, target)) });
    }
  }
  return edges;
}

/** Strongly connected groups of more than one node (or a node importing itself), after mapping each file to a unit. */
export function cycles(edges: readonly ImportEdge[], unitOf: (file: string) => string | undefined): string[][] {
  const graph = new Graph({ directed: true });
  for (const { from, to } of edges) {
    const [a, b] = [unitOf(from), unitOf(to)];
    if (a === undefined || b === undefined || a === b) continue; // a folder using its own files is no cycle
    graph.setEdge(a, b);
  }
  return alg.findCycles(graph).map((group) => [...group].sort());
}
