/**
 * Converts UCI optdigits (the 8x8 digits of scikit-learn's `digits.csv.gz`:
 * 64 counts 0-16 then the label, one digit a line) to MNIST's format once,
 * as the files shipped in datasets/optdigits/:
 *
 *   npx ts-node tasks/drift/sources/optdigits-convert.ts <digits.csv.gz> [datasets/optdigits]
 *
 * Each 8x8 image (count / 16 as intensity) goes through `toMnistImage`
 * (fit in 20x20, centre of mass at the centre of 28x28), so the shift it
 * shows is the writers' and the scanner's, not a framing difference.
 * The output is deterministic: the same input gives the same bytes.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { encodeIdxGz } from '../../data/idx-writer';
import { MNIST_PIXELS, MNIST_SIDE, toMnistImage } from '../../data/mnist-format';
import { sha256Hex } from '../../data/tensor-file';
import { UsageError } from '../../../src';
import { DataSourceError } from '../errors';

export const OPTDIGITS_IMAGES = 'optdigits-images-idx3-ubyte.gz';
export const OPTDIGITS_LABELS = 'optdigits-labels-idx1-ubyte.gz';

/** Parses digits.csv(.gz) text into MNIST-format pixels and labels. */
export function convertOptdigits(csv: string): { pixels: Uint8Array; labels: Uint8Array } {
  const lines = csv.split('\n').filter((l) => l.trim() !== '');
  const pixels = new Uint8Array(lines.length * MNIST_PIXELS);
  const labels = new Uint8Array(lines.length);
  lines.forEach((line, i) => {
    const values = line.split(',').map(Number);
    if (values.length !== 65 || values.some((v) => !Number.isInteger(v))) {
      throw new DataSourceError(`line ${i + 1}: expected 64 counts and a label (65 integers), got "${line.slice(0, 60)}"`);
    }
    const label = values[64];
    if (label < 0 || label > 9) throw new DataSourceError(`line ${i + 1}: label ${label} is not a digit`);
    const grey = Float32Array.from(values.slice(0, 64), (v) => Math.min(Math.max(v, 0), 16) / 16);
    pixels.set(toMnistImage({ width: 8, height: 8, pixels: grey }), i * MNIST_PIXELS);
    labels[i] = label;
  });
  return { pixels, labels };
}

async function main(args: string[]): Promise<void> {
  const [input, outDir = join(__dirname, '..', '..', '..', 'datasets', 'optdigits')] = args;
  if (!input) throw new UsageError('usage: optdigits-convert.ts <path to digits.csv.gz> [output folder]');
  const raw = await readFile(input);
  const text = (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString('utf8');
  const { pixels, labels } = convertOptdigits(text);
  const images = encodeIdxGz(pixels, [labels.length, MNIST_SIDE, MNIST_SIDE]);
  const labelBytes = encodeIdxGz(labels, [labels.length]);
  await writeFile(join(outDir, OPTDIGITS_IMAGES), images);
  await writeFile(join(outDir, OPTDIGITS_LABELS), labelBytes);
  process.stdout.write(
    `${labels.length} digits from ${input} (sha256 ${sha256Hex(raw)})\n` +
      `${OPTDIGITS_IMAGES} sha256 ${sha256Hex(images)}\n${OPTDIGITS_LABELS} sha256 ${sha256Hex(labelBytes)}\n`,
  );
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  });
}
