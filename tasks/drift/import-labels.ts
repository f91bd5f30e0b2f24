/**
 * Turns a labelled data source into a labelled batch in the store, the way
 * labelled samples arrive for retraining: an image folder with one
 * sub-folder per class (DIDA's layout), or any other source with labels.
 *
 *   npx ts-node tasks/drift/import-labels.ts --store ./data --source folder:/data/DIDA/train --name dida-1
 *
 * Exit 0 on success (prints the manifest), 2 for bad options or a source
 * without labels, 1 when reading fails.
 */
import { parseArgs } from 'node:util';
import { writeLabelledBatch } from '../data/labelled-batch';
import { loadSource } from './sources/source-spec';

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { store: { type: 'string', default: './data' }, source: { type: 'string' }, name: { type: 'string' } } });
  if (!values.source || !values.name) {
    process.stderr.write('usage: import-labels.ts --store DIR|s3://... --source <labelled data source, e.g. folder:/path> --name <batch id>\n');
    return 2;
  }
  const batch = await loadSource(values.source, { store: values.store });
  if (!batch.labels) {
    process.stderr.write(`${values.source} has no labels: an image folder needs one sub-folder per class (0/ .. 9/)\n`);
    return 2;
  }
  const manifest = await writeLabelledBatch(values.store!, values.name, { pixels: batch.pixels, labels: batch.labels, source: values.source });
  process.stdout.write(`${JSON.stringify(manifest)}\n`);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(err instanceof RangeError || err.name === 'LabelledBatchError' ? 2 : 1);
    },
  );
}
