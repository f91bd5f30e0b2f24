import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdxFormatError, parseIdx, parseIdxFile } from '../tasks/data/idx';
import { encodeIdx } from '../tasks/data/idx-writer';
import { MNIST_PIXELS, toMnistImage } from '../tasks/data/mnist-format';
import { fashionMnistAvailable, OPTDIGITS_DIR, readFashionMnist, readMnist, readOptdigits, readOptdigitsSplit } from '../tasks/drift/sources/idx-source';
import { ImageFolderError, readImageFolder } from '../tasks/drift/sources/image-folder';
import { convertOptdigits, OPTDIGITS_IMAGES } from '../tasks/drift/sources/optdigits-convert';
import { applyTransform, parseTransform } from '../tasks/drift/sources/transforms';
import type { ImageBatch } from '../tasks/drift/sources/image-batch';

let tmp: string;
let mnist: ImageBatch;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'dagwright-sources-'));
  mnist = await readMnist('t10k');
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function centreOfMass(img: Uint8Array): [number, number] {
  let m = 0;
  let x = 0;
  let y = 0;
  for (let i = 0; i < MNIST_PIXELS; i++) {
    m += img[i];
    x += img[i] * (i % 28);
    y += img[i] * Math.floor(i / 28);
  }
  return [x / m, y / m];
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) [ma, mb] = [ma + a[i] / n, mb + b[i] / n];
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

const image = (k: number) => mnist.pixels.subarray(k * MNIST_PIXELS, (k + 1) * MNIST_PIXELS);

describe('IDX files: gzip and errors that are not retried', () => {
  it('reads gzipped IDX files and plain ones alike', () => {
    const raw = encodeIdx(Uint8Array.of(1, 2, 3, 4, 5, 6), [2, 3]);
    expect(parseIdxFile(gzipSync(raw), 'x.gz')).toEqual(parseIdx(raw, 'x'));
    expect(parseIdxFile(raw, 'x').shape).toEqual([2, 3]);
  });

  it('a truncated gzip or a truncated IDX file fails with the file name, and is not retryable', () => {
    const gz = gzipSync(encodeIdx(new Uint8Array(1000), [10, 100]));
    const error = (() => {
      try {
        parseIdxFile(gz.subarray(0, gz.length - 20), 'cut.gz');
      } catch (e) {
        return e;
      }
    })() as IdxFormatError;
    expect(error).toBeInstanceOf(IdxFormatError);
    expect(error.message).toMatch(/^cut\.gz: not a valid IDX file: gzip data is truncated or corrupt/);
    expect(error.retryable).toBe(false);
    const truncated = (() => {
      try {
        parseIdx(encodeIdx(new Uint8Array(10), [10]).subarray(0, 12), 'short');
      } catch (e) {
        return e;
      }
    })() as IdxFormatError;
    expect(truncated.retryable).toBe(false);
    expect(truncated.message).toMatch(/truncated/);
  });
});

describe('toMnistImage makes digits the way MNIST was made', () => {
  it('fits the ink box in 20x20 keeping the aspect ratio and centres the mass at (14, 14)', () => {
    const width = 100;
    const height = 60;
    const pixels = new Float32Array(width * height);
    for (let y = 5; y < 45; y++) for (let x = 70; x < 90; x++) pixels[y * width + x] = 1; // a 20 x 40 bar, off centre
    const out = toMnistImage({ width, height, pixels });
    const [cx, cy] = centreOfMass(out);
    expect(Math.abs(cx - 14)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(cy - 14)).toBeLessThanOrEqual(0.5);
    const rows = new Set<number>();
    const cols = new Set<number>();
    out.forEach((v, i) => v > 128 && (rows.add(Math.floor(i / 28)), cols.add(i % 28)));
    expect(rows.size).toBe(20);
    expect(cols.size).toBe(10);
    expect(toMnistImage({ width: 3, height: 3, pixels: new Float32Array(9) }).every((v) => v === 0)).toBe(true);
  });
});

describe('optdigits shipped in datasets/optdigits', () => {
  it('is exactly what the conversion script makes from the original digits.csv.gz', async () => {
    const text = gunzipSync(await readFile(join(OPTDIGITS_DIR, 'digits.csv.gz'))).toString('utf8');
    const converted = convertOptdigits(text);
    const shipped = await readOptdigits();
    expect(shipped.count).toBe(1797);
    expect(Buffer.from(converted.pixels).equals(Buffer.from(shipped.pixels))).toBe(true);
    expect([...converted.labels]).toEqual([...shipped.labels!]);
    expect(parseIdxFile(await readFile(join(OPTDIGITS_DIR, OPTDIGITS_IMAGES)), 'x').shape).toEqual([1797, 28, 28]);
  });

  it('looks like MNIST where it should (centred digits, every class) and splits into labelled and held-out parts', async () => {
    const all = await readOptdigits();
    const counts = new Array(10).fill(0);
    for (const l of all.labels!) counts[l]++;
    for (const c of counts) expect(c).toBeGreaterThan(170);
    const [cx, cy] = centreOfMass(all.pixels.subarray(0, MNIST_PIXELS));
    expect(Math.abs(cx - 14) + Math.abs(cy - 14)).toBeLessThan(1.5);
    const { labelled, heldout } = await readOptdigitsSplit();
    expect(labelled.count + heldout.count).toBe(1797);
    expect(heldout.count).toBe(Math.round(1797 * 0.4));
  });
});

describe('seeded MNIST transforms', () => {
  const five = () => ({ name: 'mnist-test', count: 5, pixels: mnist.pixels.slice(0, 5 * MNIST_PIXELS), labels: mnist.labels!.slice(0, 5) });

  it('the same seed gives the same images, another seed others; labels are kept', () => {
    const spec = parseTransform('rotate:30');
    const a = applyTransform(five(), spec, 1);
    expect(applyTransform(five(), spec, 1)).toEqual(a);
    expect(Buffer.from(applyTransform(five(), spec, 2).pixels).equals(Buffer.from(a.pixels))).toBe(false);
    expect(a.name).toBe('mnist-test:rotate:30');
    expect([...a.labels!]).toEqual([...five().labels]);
  });

  it('severity grades the change: stronger rotation and blur move images further from the originals', () => {
    const base = five();
    for (const [mild, strong] of [['rotate:15', 'rotate:45'], ['blur:0.8', 'blur:2'], ['noise:0.05', 'noise:0.3'], ['shift:1', 'shift:4']]) {
      const m = applyTransform(base, parseTransform(mild), 3);
      const s = applyTransform(base, parseTransform(strong), 3);
      expect(correlation(s.pixels, base.pixels)).toBeLessThan(correlation(m.pixels, base.pixels));
      expect(correlation(m.pixels, base.pixels)).toBeLessThan(0.999);
    }
  });

  it('thickness adds or removes ink; invert:1 inverts every image', () => {
    const base = five();
    const ink = (b: ImageBatch) => b.pixels.reduce((s, v) => s + v, 0);
    expect(ink(applyTransform(base, parseTransform('thickness:2'), 0))).toBeGreaterThan(ink(applyTransform(base, parseTransform('thickness:1'), 0)));
    expect(ink(applyTransform(base, parseTransform('thickness:1'), 0))).toBeGreaterThan(ink(base));
    expect(ink(applyTransform(base, parseTransform('thickness:-1'), 0))).toBeLessThan(ink(base));
    const inverted = applyTransform(base, parseTransform('invert:1'), 0);
    expect(inverted.pixels.every((v, i) => v === 255 - base.pixels[i])).toBe(true);
  });

  it('refuses a malformed spec, saying what is expected', () => {
    expect(() => parseTransform('spin:3')).toThrow(/kind one of rotate, thickness, noise, blur, shift, invert/);
    expect(() => parseTransform('rotate')).toThrow(/<kind>:<number>/);
    expect(() => parseTransform('invert:2')).toThrow(/share of images to invert, 0-1/);
  });
});

/** Writes MNIST image k enlarged to `size`, as dark ink on coloured paper, PNG or JPEG. */
async function writeDigitFile(path: string, k: number, size: number, format: 'png' | 'jpeg'): Promise<void> {
  const src = image(k);
  const data = Buffer.alloc(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const v = src[Math.floor((y * 28) / size) * 28 + Math.floor((x * 28) / size)] / 255;
      const o = (y * size + x) * 4;
      data[o] = Math.round(240 - 200 * v); // yellowish paper, dark blue-black ink
      data[o + 1] = Math.round(230 - 200 * v);
      data[o + 2] = Math.round(180 - 150 * v);
      data[o + 3] = 255;
    }
  }
  if (format === 'png') {
    const png = new PNG({ width: size, height: size });
    data.copy(png.data);
    await writeFile(path, PNG.sync.write(png));
  } else {
    await writeFile(path, jpeg.encode({ data, width: size, height: size }, 95).data);
  }
}

describe('image folders (as DIDA ships)', () => {
  it('reads class folders of PNG and JPEG images of any size and colour into MNIST-like digits with labels', async () => {
    const root = join(tmp, 'dida');
    const picks = [0, 1, 2, 3, 4, 5];
    for (const k of picks) {
      const dir = join(root, String(mnist.labels![k]));
      await mkdir(dir, { recursive: true });
      await writeDigitFile(join(dir, `img${k}.${k % 2 ? 'png' : 'jpg'}`), k, 60 + k * 17, k % 2 ? 'png' : 'jpeg');
    }
    await writeFile(join(root, '7', 'notes.txt'), 'ignored');
    const batch = await readImageFolder(root);
    expect(batch.count).toBe(picks.length);
    expect([...batch.labels!].sort()).toEqual(picks.map((k) => mnist.labels![k]).sort());
    // Each digit read back resembles the MNIST original it was drawn from.
    for (let i = 0; i < batch.count; i++) {
      const label = batch.labels![i];
      const k = picks.find((p) => mnist.labels![p] === label)!;
      expect(correlation(batch.pixels.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS), image(k))).toBeGreaterThan(0.7);
      const [cx, cy] = centreOfMass(batch.pixels.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS));
      expect(Math.abs(cx - 14) + Math.abs(cy - 14)).toBeLessThan(1.5);
    }
  });

  it('reads loose images as an unlabelled batch', async () => {
    const root = join(tmp, 'loose');
    await mkdir(root, { recursive: true });
    await writeDigitFile(join(root, 'a.png'), 7, 40, 'png');
    const batch = await readImageFolder(root);
    expect(batch.count).toBe(1);
    expect(batch.labels).toBeUndefined();
  });

  it('names the folder or file when it cannot be used', async () => {
    await expect(readImageFolder(join(tmp, 'nope'))).rejects.toThrow(ImageFolderError);
    const empty = join(tmp, 'empty');
    await mkdir(empty, { recursive: true });
    await expect(readImageFolder(empty)).rejects.toThrow(/holds no PNG or JPEG images/);
    const bad = join(tmp, 'bad', '3');
    await mkdir(bad, { recursive: true });
    await writeFile(join(bad, 'broken.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    await expect(readImageFolder(join(tmp, 'bad'))).rejects.toThrow(/broken\.png: cannot be decoded/);
  });
});

describe('Fashion-MNIST (Debian dataset-fashion-mnist)', async () => {
  const available = await fashionMnistAvailable();
  if (!available) {
    console.warn('SKIPPED: Fashion-MNIST is not installed (apt-get install -y dataset-fashion-mnist)');
    if (process.env.CI === 'true' && process.env.DAGWRIGHT_CI_FASHION_MNIST === '1') it('is installed in CI', () => expect(available).toBe(true));
  }
  it.skipIf(!available)('reads the gzipped IDX test set', async () => {
    const batch = await readFashionMnist('t10k');
    expect(batch.count).toBe(10_000);
    expect(batch.pixels.length).toBe(10_000 * MNIST_PIXELS);
  });
});
