/**
 * Digit images from a folder, the way DIDA and most scanned collections ship:
 * one sub-folder per class (`0/` ... `9/`) of PNG or JPEG files of any size
 * and colour; or image files directly in the folder (unlabelled: a "current"
 * batch). Each image becomes MNIST's format the way MNIST was made
 * (`toMnistImage`): grey levels, ink bright on black (a light background is
 * detected from the border and inverted), the paper's grey subtracted, then
 * fitted in 20x20 and centred by centre of mass in 28x28.
 */
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { DagwrightError } from '../../../src';
import { MNIST_PIXELS, type GreyImage, toMnistImage } from '../../data/mnist-format';
import type { ImageBatch } from './image-batch';

/** Thrown for a folder that is not a usable image folder, or an image that cannot be decoded; names the path. */
export class ImageFolderError extends DagwrightError {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);
/** Grey level above the paper (0-1) that counts as ink when finding the digit's box. */
const INK_THRESHOLD = 0.2;

/** RGBA bytes (width * height * 4) to a grey image, ink high, paper low. */
export function rgbaToGrey(rgba: Uint8Array, width: number, height: number): GreyImage {
  const n = width * height;
  const grey = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const alpha = rgba[i * 4 + 3] / 255;
    const lum = (0.299 * rgba[i * 4] + 0.587 * rgba[i * 4 + 1] + 0.114 * rgba[i * 4 + 2]) / 255;
    grey[i] = lum * alpha + (1 - alpha); // transparent pixels are paper (white)
  }
  const border: number[] = [];
  for (let x = 0; x < width; x++) border.push(grey[x], grey[(height - 1) * width + x]);
  for (let y = 0; y < height; y++) border.push(grey[y * width], grey[y * width + width - 1]);
  border.sort((a, b) => a - b);
  const borderMedian = border[Math.floor(border.length / 2)];
  const lightPaper = borderMedian > 0.5; // dark ink on light paper: invert
  if (lightPaper) for (let i = 0; i < n; i++) grey[i] = 1 - grey[i];
  const paper = lightPaper ? 1 - borderMedian : borderMedian;
  let peak = 0;
  for (let i = 0; i < n; i++) peak = Math.max(peak, grey[i]);
  const range = peak - paper;
  for (let i = 0; i < n; i++) grey[i] = range > 1e-6 ? Math.min(Math.max((grey[i] - paper) / range, 0), 1) : 0;
  return { width, height, pixels: grey };
}

/** Decodes a PNG or JPEG file's bytes to RGBA. */
function decode(path: string, bytes: Buffer): { data: Uint8Array; width: number; height: number } {
  try {
    if (bytes[0] === 0x89 && bytes[1] === 0x50) {
      const png = PNG.sync.read(bytes);
      return { data: png.data, width: png.width, height: png.height };
    }
    if (bytes[0] === 0xff && bytes[1] === 0xd8) {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 256 });
      return { data: img.data, width: img.width, height: img.height };
    }
  } catch (err) {
    throw new ImageFolderError(path, `cannot be decoded (${(err as Error).message}); replace or remove the file`);
  }
  throw new ImageFolderError(path, 'is neither a PNG nor a JPEG by its first bytes; remove it or convert it');
}

/** One image file in MNIST's format. */
export async function readDigitImage(path: string): Promise<Uint8Array> {
  const { data, width, height } = decode(path, await readFile(path));
  return toMnistImage(rgbaToGrey(data, width, height), INK_THRESHOLD);
}

async function imageFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && !e.name.startsWith('.') && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase()))
    .map((e) => join(dir, e.name))
    .sort();
}

/** Reads an image folder (see the module comment) into a batch; labels come from the class folders. */
export async function readImageFolder(root: string): Promise<ImageBatch> {
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch {
    throw new ImageFolderError(root, 'is not a readable folder; pass a folder with one sub-folder per class (0-9) of PNG or JPEG images');
  }
  const classDirs = entries.filter((e) => e.isDirectory() && /^[0-9]$/.test(e.name)).map((e) => e.name).sort();
  const files: { path: string; label?: number }[] = [];
  for (const name of classDirs) for (const path of await imageFiles(join(root, name))) files.push({ path, label: Number(name) });
  const loose = await imageFiles(root);
  if (classDirs.length > 0 && loose.length > 0) {
    throw new ImageFolderError(root, `holds both class folders and ${loose.length} loose images (e.g. ${loose[0]}); put every image in its class folder, or none`);
  }
  for (const path of loose) files.push({ path });
  if (files.length === 0) throw new ImageFolderError(root, 'holds no PNG or JPEG images (expected sub-folders 0-9 of images, or images directly)');
  const pixels = new Uint8Array(files.length * MNIST_PIXELS);
  for (let i = 0; i < files.length; i++) pixels.set(await readDigitImage(files[i].path), i * MNIST_PIXELS);
  const labelled = classDirs.length > 0;
  return { name: `folder:${root}`, count: files.length, pixels, labels: labelled ? Uint8Array.from(files, (f) => f.label!) : undefined };
}
