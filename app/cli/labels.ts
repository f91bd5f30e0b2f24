/**
 * `dagwright labels`: labels that arrive after the prediction.
 *
 *   npx dagwright labels import <file.csv|file.jsonl> [--store ./data] [--model mnist-digits]
 *   npx dagwright labels accuracy [--window day|hour|every-<N>] [--json]
 *   npx dagwright labels batch <batchId>          the labelled predictions as a labelled batch for retraining
 *
 * Exit codes: 0 done, 1 refused (unknown prediction id, an id given two labels) or failed, 2 bad command line or file.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { UsageError } from '../../src/errors';
import { DEFAULT_MODEL_NAME } from '../../tasks/registry/registry';
import { importLabels, LabelImportError, parseLabelFile } from '../../tasks/labels/late-labels';
import { writeEstimatedAccuracy } from '../../tasks/labels/estimated-accuracy';
import { labelledPredictionsBatch, parseAccuracyWindow, writeRealizedAccuracy } from '../../tasks/labels/realized-accuracy';
import { type CommandIo, commandStore, parseCommandArgs, runAsScript, storeHelp } from './command';

const usage = `usage: dagwright labels <command> [options]

commands:
  import <file>          record labels for served predictions: CSV "id,label" lines (a header is optional) or
                         JSONL {"id": "<prediction id>", "label": <class>}; ids are those the server returned
                         (V2: parameters.prediction_ids). Checked whole: an unknown id or an id given a second,
                         different label refuses the import and nothing is written.
  accuracy               realized accuracy per window and served version, beside the accuracy CBPE estimates from
                         the served probabilities (both written to the store under monitoring/<model>/)
  batch <batchId>        write the labelled predictions as a labelled batch (<store>/labels/<batchId>/) for retraining

options:
  ${storeHelp}
  --model <name>         the served model (default: ${DEFAULT_MODEL_NAME})
  --window <w>           accuracy: day (default), hour or every-<N> predictions
  --json                 accuracy: print the series as JSON
  --help                 show this help
`;

const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(2)}%`);

export async function labelsCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const err = io.err ?? ((t: string) => process.stderr.write(t));
  const { values, positionals } = parseCommandArgs(argv, { store: { type: 'string' }, model: { type: 'string' }, window: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } }, usage);
  const [command, ...rest] = positionals;
  if (values.help || command === undefined) {
    io.out(usage);
    return values.help ? 0 : 2;
  }
  const store = commandStore(values.store as string | undefined);
  const model = (values.model as string | undefined) ?? DEFAULT_MODEL_NAME;
  try {
    if (command === 'import') {
      if (rest.length !== 1) throw new UsageError(`import takes one file, got ${rest.length}.\n${usage}`);
      let text: string;
      try {
        text = await readFile(rest[0], 'utf8');
      } catch (e) {
        throw new UsageError(`cannot read ${rest[0]} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`);
      }
      const result = await importLabels(store, model, parseLabelFile(text), basename(rest[0]));
      io.out(`imported ${result.added} label(s) for ${model}${result.alreadyKnown ? ` (${result.alreadyKnown} already recorded with the same label, skipped)` : ''}\n`);
      return 0;
    }
    if (command === 'accuracy') {
      if (rest.length > 0) throw new UsageError(`accuracy takes no arguments.\n${usage}`);
      let window;
      try {
        window = parseAccuracyWindow((values.window as string | undefined) ?? 'day');
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const series = await writeRealizedAccuracy(store, model, window);
      const estimated = await writeEstimatedAccuracy(store, model, window);
      if (values.json) io.out(`${JSON.stringify({ ...series, estimated }, null, 2)}\n`);
      else {
        const estimateOf = (start: string, version: number) => estimated.points.find((e) => e.start === start && e.version === version);
        const row = (p: (typeof series.points)[number]) => {
          const e = estimateOf(p.start, p.version);
          return `${p.start.slice(0, 19).replace('T', ' ')}  ${String(p.version).padStart(7)}  ${String(p.predictions).padStart(11)}  ${String(p.labelled).padStart(8)}  ${pct(p.accuracy).padStart(8)}  ${pct(e?.estimatedAccuracy ?? null).padStart(9)}${e?.alert ? '  ALERT: estimated drop' : ''}`;
        };
        io.out(['window start         version  predictions  labelled  accuracy  estimated', ...series.points.map(row)].join('\n') + '\n');
      }
      return 0;
    }
    if (command === 'batch') {
      if (rest.length !== 1 || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(rest[0])) throw new UsageError(`batch takes one batch id (letters, digits, '.', '_', '-').\n${usage}`);
      const manifest = await labelledPredictionsBatch(store, model, rest[0]);
      if (!manifest) {
        err(`error: no served prediction of ${model} has a label yet; import labels first (dagwright labels import <file>).\n`);
        return 1;
      }
      io.out(`${JSON.stringify(manifest)}\n`);
      return 0;
    }
    throw new UsageError(`unknown command "${command}"; expected import, accuracy or batch.\n${usage}`);
  } catch (e) {
    if (!(e instanceof LabelImportError)) throw e;
    err(`error: ${e.message}\n`);
    return e.kind === 'bad-input' ? 2 : 1;
  }
}

if (require.main === module) runAsScript(labelsCommand);
