import type { ModelVersion } from '../../../tasks/registry/registry';
import type { GraphData } from './run-dag';

type Json = Record<string, unknown>;

function obj(value: unknown): Json | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

function short(hash: unknown): string {
  return typeof hash === 'string' ? `sha256 ${hash.slice(0, 12)}` : '';
}

/** Files with a sha256 anywhere under `value` (source IDX files, labelled batches): [name, sha256]. */
function hashedFiles(value: unknown, name = ''): [string, string][] {
  const o = obj(value);
  if (!o) return [];
  if (typeof o.sha256 === 'string') return [[String(o.file ?? o.uri ?? name), o.sha256]];
  return Object.entries(o).flatMap(([k, v]) => hashedFiles(v, k));
}

/** Labelled batches (objects with a `batchId`) anywhere under `value`: what a retraining added to its data. */
function labelledBatches(value: unknown, out: Json[] = []): Json[] {
  if (Array.isArray(value)) value.forEach((v) => labelledBatches(v, out));
  const o = obj(value);
  if (!o) return out;
  if (typeof o.batchId === 'string') out.push(o);
  else Object.values(o).forEach((v) => labelledBatches(v, out));
  return out;
}

/**
 * A version's lineage as a graph, from the model back to where it came from:
 * the version, its training task and run, the data increment it was trained
 * on and that increment's source files (with their hashes), and the
 * evaluation with its test data.
 */
export function lineageGraph(version: ModelVersion): GraphData {
  const nodes: GraphData['nodes'] = [];
  const edges: [string, string][] = [];
  const add = (id: string, label: string, status: string, sub?: string, href?: string, title?: string) => {
    nodes.push({ id, label, status, ...(sub ? { sub } : {}), ...(href ? { href } : {}), ...(title ? { title } : {}) });
  };
  const modelId = `model:${version.version}`;
  const lineage = version.lineage as Json;
  const training = obj(lineage.training);
  const data = obj(lineage.data);
  const runHref = (runId: unknown, taskId?: unknown) =>
    typeof runId === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(runId) ? `/runs/${runId}${typeof taskId === 'string' ? `/tasks/${encodeURIComponent(taskId)}` : ''}` : undefined;
  // Every node is a way on: the version to the run that trained it, the data to the run that prepared it.
  add(modelId, `${version.model} v${version.version}`, 'model', short(version.contentSha256), runHref(training?.runId), `version ${version.version}: open the run that trained it`);
  const source = (parent: string, value: unknown, prefix: string) => {
    for (const [file, hash] of hashedFiles(value)) {
      const id = `${prefix}:${file}:${hash}`;
      if (!nodes.some((n) => n.id === id)) add(id, file.split('/').pop() ?? file, 'file', short(hash), undefined, `${file} sha256 ${hash}`);
      edges.push([id, parent]);
    }
  };
  if (training) {
    add('training', `training ${String(training.taskId ?? '')}`.slice(0, 60), 'run', `run ${String(training.runId ?? '?')}`, runHref(training.runId, training.taskId), String(training.taskId ?? ''));
    edges.push(['training', modelId]);
  }
  if (data) {
    const increment = data.increment === undefined ? '' : ` increment ${String(data.increment)}`;
    add('data', `data${increment}`, 'data', `${String(data.images ?? '?')} images, ${short(data.manifestSha256)}`, runHref(data.runId ?? training?.runId), String(data.uri ?? ''));
    edges.push(['data', training ? 'training' : modelId]);
    source('data', data.source, 'source');
    for (const [key, value] of Object.entries(data)) if (key !== 'source' && key !== 'tensors' && obj(value) && labelledBatches(value).length === 0) source('data', value, key);
  }
  for (const batch of labelledBatches(lineage)) {
    const id = `labelled:${String(batch.batchId)}`;
    if (nodes.some((n) => n.id === id)) continue;
    const count = batch.count ?? batch.samples ?? batch.images;
    add(id, `labelled batch ${String(batch.batchId)}`, 'labelled', `${count === undefined ? '?' : String(count)} samples${batch.manifestSha256 ? `, ${short(batch.manifestSha256)}` : ''}`, `/labelling`, `labels/${String(batch.batchId)} ${String(batch.source ?? '')}`);
    edges.push([id, data ? 'data' : training ? 'training' : modelId]);
  }
  const evaluation = obj(lineage.evaluation);
  const testData = obj(lineage.testData);
  if (evaluation) {
    add('evaluation', 'evaluation', 'evaluation', `run ${String(evaluation.runId ?? '?')}`, runHref(evaluation.runId, evaluation.taskId), String(evaluation.taskId ?? ''));
    edges.push(['evaluation', modelId]);
    if (testData) {
      add('test-data', 'test data', 'data', short(testData.manifestSha256), undefined, String(testData.uri ?? ''));
      edges.push(['test-data', 'evaluation']);
      source('test-data', testData.source, 'test-source');
    }
  }
  return { nodes, edges, grouped: false, direction: 'LR' };
}
