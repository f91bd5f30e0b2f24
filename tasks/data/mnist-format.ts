/**
 * Turns a digit image of any size into MNIST's format the way MNIST itself
 * was made (LeCun et al.): the digit (its ink's bounding box) is scaled,
 * keeping its aspect ratio, to fit a 20x20 box with grey levels from
 * resampling, then placed in a 28x28 field so that its centre of mass sits
 * at the field's centre. Ink is bright (255) on a black (0) background.
 */
import { TensorShapeError } from './errors';

export const MNIST_SIDE = 28;
export const MNIST_PIXELS = MNIST_SIDE * MNIST_SIDE;
const BOX = 20;
/** Where MNIST's centres of mass lie, in pixel-index coordinates: measured on its test set, the mean is (14.0, 14.0). */
const CENTRE = 14;

/** A greyscale image: `width * height` intensities in [0, 1], ink high, row-major. */
export interface GreyImage {
  readonly width: number;
  readonly height: number;
  readonly pixels: Float32Array;
}

function inkBox(image: GreyImage, threshold: number): { x0: number; y0: number; x1: number; y1: number } | undefined {
  let x0 = image.width;
  let y0 = image.height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      if (image.pixels[y * image.width + x] > threshold) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
    }
  }
  return x1 < 0 ? undefined : { x0, y0, x1, y1 };
}

/** Bilinear sample at (x, y) in pixel-index coordinates, edges clamped. */
function bilinear(image: GreyImage, x: number, y: number): number {
  const cx = Math.min(Math.max(x, 0), image.width - 1);
  const cy = Math.min(Math.max(y, 0), image.height - 1);
  const xa = Math.floor(cx);
  const ya = Math.floor(cy);
  const xb = Math.min(xa + 1, image.width - 1);
  const yb = Math.min(ya + 1, image.height - 1);
  const fx = cx - xa;
  const fy = cy - ya;
  const p = image.pixels;
  const w = image.width;
  return (p[ya * w + xa] * (1 - fx) + p[ya * w + xb] * fx) * (1 - fy) + (p[yb * w + xa] * (1 - fx) + p[yb * w + xb] * fx) * fy;
}

/** Mean over the source rectangle [x0, x1) x [y0, y1) with fractional coverage at its edges. */
function areaMean(image: GreyImage, x0: number, x1: number, y0: number, y1: number): number {
  let sum = 0;
  let weight = 0;
  for (let y = Math.floor(y0); y < Math.ceil(y1); y++) {
    const wy = Math.min(y + 1, y1) - Math.max(y, y0);
    for (let x = Math.floor(x0); x < Math.ceil(x1); x++) {
      const wx = Math.min(x + 1, x1) - Math.max(x, x0);
      sum += image.pixels[y * image.width + x] * wx * wy;
      weight += wx * wy;
    }
  }
  return weight > 0 ? sum / weight : 0;
}

/** The crop `box` of `image` resampled to `width x height`: bilinear when enlarging, area mean when shrinking. */
function resample(image: GreyImage, box: { x0: number; y0: number; x1: number; y1: number }, width: number, height: number): GreyImage {
  const sw = box.x1 - box.x0 + 1;
  const sh = box.y1 - box.y0 + 1;
  const sx = sw / width;
  const sy = sh / height;
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      out[y * width + x] =
        sx >= 1 || sy >= 1
          ? areaMean(image, box.x0 + x * sx, box.x0 + (x + 1) * sx, box.y0 + y * sy, box.y0 + (y + 1) * sy)
          : bilinear(image, box.x0 + (x + 0.5) * sx - 0.5, box.y0 + (y + 0.5) * sy - 0.5);
    }
  }
  return { width, height, pixels: out };
}

/**
 * The MNIST-format version of a digit: 784 uint8 pixels. A blank image (no
 * pixel above `threshold`) gives a blank field.
 */
export function toMnistImage(image: GreyImage, threshold = 0.05): Uint8Array {
  if (image.pixels.length !== image.width * image.height) {
    throw new TensorShapeError(`Expected ${image.width} x ${image.height} = ${image.width * image.height} pixels, got ${image.pixels.length}`);
  }
  const out = new Uint8Array(MNIST_PIXELS);
  const box = inkBox(image, threshold);
  if (!box) return out;
  const longer = Math.max(box.x1 - box.x0 + 1, box.y1 - box.y0 + 1);
  const width = Math.max(1, Math.round(((box.x1 - box.x0 + 1) * BOX) / longer));
  const height = Math.max(1, Math.round(((box.y1 - box.y0 + 1) * BOX) / longer));
  const digit = resample(image, box, width, height);
  let mass = 0;
  let mx = 0;
  let my = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = digit.pixels[y * width + x];
      mass += v;
      mx += v * x;
      my += v * y;
    }
  }
  const left = Math.round(CENTRE - mx / mass);
  const top = Math.round(CENTRE - my / mass);
  for (let y = 0; y < height; y++) {
    const ty = y + top;
    if (ty < 0 || ty >= MNIST_SIDE) continue;
    for (let x = 0; x < width; x++) {
      const tx = x + left;
      if (tx < 0 || tx >= MNIST_SIDE) continue;
      out[ty * MNIST_SIDE + tx] = Math.round(Math.min(Math.max(digit.pixels[y * width + x], 0), 1) * 255);
    }
  }
  return out;
}
