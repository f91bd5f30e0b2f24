/**
 * `dagwright registry add`: registers an ONNX model from any framework with
 * its signature (see tasks/onnx/signature.ts). Nothing is written unless the
 * file loads in ONNX Runtime and matches the signature.
 *
 *   npx dagwright registry add --onnx model.onnx --signature signature.json [--run <id>] [--metric testAccuracy=0.99] [--alias champion]
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ModelRegistry } from '../../tasks/registry/registry';
import { registerOnnxModel } from '../../tasks/onnx/register-onnx';
import { SignatureError } from '../../tasks/onnx/signature';
import { promoteVersion } from '../../tasks/registry/promotion';
import { imageSourceScorer } from '../../tasks/drift/source-scorer';
import { UsageError } from '../../src/errors';

export interface AddOptions {
  readonly onnx?: string;
  readonly signature?: string;
  readonly run?: string;
  readonly metric?: readonly string[];
  readonly alias?: string;
}

async function readInput(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new UsageError(`cannot read the ${what} ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`);
  }
}

function metricsOf(pairs: readonly string[]): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const pair of pairs) {
    const [key, value] = pair.split('=');
    if (!key || value === undefined || value === '' || !Number.isFinite(Number(value))) throw new UsageError(`--metric expects name=number, got ${JSON.stringify(pair)}.`);
    metrics[key] = Number(value);
  }
  return metrics;
}

/** Registers the model; returns the exit code (1 when the file does not match its signature). */
export async function registryAdd(registry: ModelRegistry, options: AddOptions, out: (text: string) => void, err: (text: string) => void): Promise<number> {
  if (!options.onnx || !options.signature) throw new UsageError('add needs --onnx <file.onnx> and --signature <signature.json>.');
  const metrics = metricsOf(options.metric ?? []);
  const onnx = await readInput(options.onnx, 'ONNX file');
  const signatureText = (await readInput(options.signature, 'signature')).toString('utf8');
  let signature: unknown;
  try {
    signature = JSON.parse(signatureText);
  } catch (e) {
    throw new UsageError(`the signature ${options.signature} is not JSON (${(e as Error).message}).`);
  }
  const lineage = options.run ? { run: options.run, file: resolve(options.onnx) } : { file: resolve(options.onnx) };
  try {
    const { version, created } = await registerOnnxModel(registry, { onnx, signature, lineage, metrics });
    if (options.alias === 'champion') {
      // champion moves only through the one decision every path makes (the promotion contract, when declared).
      const { moved, verdict } = await promoteVersion(registry, version.version, { scorer: imageSourceScorer(), by: 'registry add' });
      if (!moved) {
        err(`error: registered ${registry.model} version ${version.version}, but champion stays: ${verdict.reason}\n`);
        return 1;
      }
    } else if (options.alias) await registry.setAlias(options.alias, version.version, 'registry add');
    out(`${created ? 'registered' : 'already registered as'} ${registry.model} version ${version.version}${options.alias ? ` (now ${options.alias})` : ''}\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof SignatureError)) throw e;
    err(`error: ${options.onnx} was not registered: ${e.message}\n`);
    return 1;
  }
}
