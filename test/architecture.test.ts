/**
 * docs/architecture.md, enforced: every rule there is a row here, checked
 * against the imports TypeScript reads from the source. A forbidden import or
 * a new cycle fails CI with the offending files named.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cycles, type ImportEdge, importEdges } from './helpers/import-graph';

const repoRoot = resolve(__dirname, '..');
const edges = importEdges(repoRoot, ['src', 'tasks', 'app', 'flows', 'examples']);

interface Rule {
  /** What docs/architecture.md says, in its words. */
  rule: string;
  from: RegExp;
  to: RegExp;
  /** Files the rule's `to` matches that are allowed all the same. */
  allowed?: RegExp;
}

const base = /^src\/(errors|logger|cancellation|secrets|process-alive)\.ts$/;
const taskModel = /^src\/(task|task-id|task-context|task-classes|dynamic-requirements|params\/|targets\/|store\/)/;
const scheduler = /^src\/(scheduler\/|run\.ts|plan\.ts|graph\.ts|summary\.ts|retry-policy\.ts)/;

const rules: Rule[] = [
  { rule: 'src/ imports nothing outside src/', from: /^src\//, to: /^(?!src\/)/ },
  { rule: 'the library never imports the application', from: /^(src|tasks)\//, to: /^(app|flows|examples)\// },
  { rule: 'ML tasks use the library only through its public entry points', from: /^tasks\//, to: /^src\/(?!index\.ts$|public\/)/ },
  { rule: 'generic tasks never import tasks/mnist (MNIST supplies its specifics)', from: /^tasks\/(?!mnist\/)/, to: /^tasks\/mnist\// },
  { rule: 'the base layer imports nothing above it', from: base, to: /^src\//, allowed: base },
  { rule: 'the task model knows nothing of executors, the scheduler or flows', from: taskModel, to: /^src\/(executors\/|executor\.ts|scheduler\/|run\.ts|plan\.ts|flow\/|locks\/|history\/|tracking\/|step\/)/ },
  { rule: 'the scheduler talks to executors through src/executor.ts only', from: scheduler, to: /^src\/(executors\/|flow\/)/ },
  { rule: 'executors never import each other', from: /^src\/executors\/docker\//, to: /^src\/executors\/(swarm|in-process)/ },
  { rule: 'executors never import each other', from: /^src\/executors\/swarm\//, to: /^src\/executors\/(docker|in-process)/ },
  { rule: 'executors never import each other', from: /^src\/executors\/container\//, to: /^src\/executors\/(docker|swarm|in-process)/ },
  { rule: 'executors sit below the flow layer', from: /^src\/executors\//, to: /^src\/flow\// },
  { rule: 'the step protocol imports only the task model, targets and executor.ts', from: /^src\/step\//, to: /^src\/(executors\/|flow\/|locks\/|scheduler\/|history\/|tracking\/)/ },
  { rule: 'run state (locks, history, tracking) sits below executors and flows', from: /^src\/(locks|history|tracking)\//, to: /^src\/(executors\/|flow\/)/ },
  { rule: 'the public entry points are only re-exports, and nothing in src/ imports them', from: /^src\/(?!public\/|index\.ts$)/, to: /^src\/(public\/|index\.ts$)/ },
];

function violations(rule: Rule): string[] {
  return edges
    .filter(({ from, to }) => rule.from.test(from) && rule.to.test(to) && !rule.allowed?.test(to))
    .map(({ from, to }: ImportEdge) => `${from} -> ${to}`);
}

/** A folder of src/ (src/targets) or a file at its root (src/task.ts): the units of the folder-level rule. */
const srcFolder = (file: string) => (file.startsWith('src/') ? file.split('/').slice(0, 2).join('/') : undefined);

describe('docs/architecture.md, held against the imports', () => {
  it('reads the imports (a sanity check that the graph is not empty)', () => {
    expect(edges.length).toBeGreaterThan(500);
    expect(edges).toContainEqual({ from: 'src/index.ts', to: 'src/task.ts' });
  });

  for (const rule of rules) {
    it(rule.rule + ` (${rule.from.source})`, () => {
      expect(violations(rule), rule.rule).toEqual([]);
    });
  }

  it('has no import cycle between files', () => {
    expect(cycles(edges, (file) => file)).toEqual([]);
  });

  it('has no import cycle between the folders of src/', () => {
    expect(cycles(edges, srcFolder)).toEqual([]);
  });
});
