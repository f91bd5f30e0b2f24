/**
 * Seeded distortions of MNIST-format images at graded severity, to make
 * shifted data of known kind and size:
 *
 *   rotate:<degrees>     each image turned by +/- degrees (sign at random) about the centre
 *   thickness:<passes>   strokes thickened (> 0: grey dilation passes) or thinned (< 0: erosion)
 *   noise:<sigma>        Gaussian noise, sigma as a share of full scale (0.1 = 25.5 levels)
 *   blur:<sigma>         Gaussian blur, sigma in pixels
 *   shift:<pixels>       moved by that distance in a random direction
 *   invert:<share>       that share of the images (0-1) inverted (255 - v)
 *
 * The same batch, spec and seed always give the same images.
 */
import { MNIST_PIXELS, MNIST_SIDE } from '../../data/mnist-format';
import { mulberry32 } from '../../data/seeded-random';
import type { ImageBatch } from './image-batch';
import { DataSourceError } from '../errors';

export const TRANSFORM_KINDS = ['rotate', 'thickness', 'noise', 'blur', 'shift', 'invert'] as const;
export type TransformKind = (typeof TRANSFORM_KINDS)[number];

export interface TransformSpec {
  readonly kind: TransformKind;
  readonly severity: number;
}

/** Two severities of each transform: mild and strong (what the benchmark measures). */
export const GRADED_SEVERITIES: Readonly<Record<TransformKind, readonly [number, number]>> = {
  rotate: [15, 30],
  thickness: [1, 2],
  noise: [0.1, 0.3],
  blur: [0.8, 1.5],
  shift: [2, 4],
  invert: [0.1, 1],
};

const S = MNIST_SIDE;

/** Parses `kind:severity`, e.g. `rotate:30`. */
export function parseTransform(text: string): TransformSpec {
  const [kind, value, ...rest] = text.split(':');
  const severity = Number(value);
  if (!(TRANSFORM_KINDS as readonly string[]).includes(kind) || rest.length > 0 || value === undefined || !Number.isFinite(severity)) {
    throw new DataSourceError(`transform "${text}" is not valid: expected <kind>:<number> with kind one of ${TRANSFORM_KINDS.join(', ')} (e.g. rotate:30)`);
  }
  if (kind === 'invert' && !(severity >= 0 && severity <= 1)) throw new DataSourceError(`invert takes the share of images to invert, 0-1; got ${severity}`);
  if ((kind === 'noise' || kind === 'blur' || kind === 'shift') && severity < 0) throw new DataSourceError(`${kind} takes a severity >= 0; got ${severity}`);
  return { kind: kind as TransformKind, severity };
}

function sample(img: Float32Array, x: number, y: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  const at = (xx: number, yy: number) => (xx < 0 || yy < 0 || xx >= S || yy >= S ? 0 : img[yy * S + xx]);
  return (at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx) * (1 - fy) + (at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
}

/** Maps each output pixel back to a source point (inverse warp), bilinear. */
function warp(img: Float32Array, inverse: (x: number, y: number) => [number, number]): Float32Array {
  const out = new Float32Array(MNIST_PIXELS);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const [sx, sy] = inverse(x, y);
      out[y * S + x] = sample(img, sx, sy);
    }
  }
  return out;
}

function rotate(img: Float32Array, degrees: number): Float32Array {
  const a = (degrees * Math.PI) / 180;
  const [c, s] = [Math.cos(a), Math.sin(a)];
  const centre = (S - 1) / 2;
  return warp(img, (x, y) => [c * (x - centre) + s * (y - centre) + centre, -s * (x - centre) + c * (y - centre) + centre]);
}

function morph(img: Float32Array, passes: number): Float32Array {
  let cur = img;
  const pick = passes > 0 ? Math.max : Math.min;
  for (let p = 0; p < Math.abs(passes); p++) {
    const next = new Float32Array(MNIST_PIXELS);
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        let v = cur[y * S + x];
        // Cross-shaped neighbourhood: one pass adds (or removes) about one pixel of stroke.
        for (const [dx, dy] of [[1, 0], [-1, 0], [0, 1], [0, -1]]) {
          const xx = x + dx;
          const yy = y + dy;
          v = pick(v, xx < 0 || yy < 0 || xx >= S || yy >= S ? 0 : cur[yy * S + xx]);
        }
        next[y * S + x] = v;
      }
    }
    cur = next;
  }
  return cur;
}

function blur(img: Float32Array, sigma: number): Float32Array {
  if (sigma <= 0) return img;
  const radius = Math.ceil(3 * sigma);
  const kernel = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const total = kernel.reduce((a, b) => a + b, 0);
  const pass = (src: Float32Array, horizontal: boolean) => {
    const out = new Float32Array(MNIST_PIXELS);
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        let v = 0;
        for (let k = -radius; k <= radius; k++) {
          const xx = horizontal ? x + k : x;
          const yy = horizontal ? y : y + k;
          if (xx >= 0 && yy >= 0 && xx < S && yy < S) v += src[yy * S + xx] * kernel[k + radius];
        }
        out[y * S + x] = v / total;
      }
    }
    return out;
  };
  return pass(pass(img, true), false);
}

function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

function transformOne(img: Float32Array, spec: TransformSpec, random: () => number): Float32Array {
  switch (spec.kind) {
    case 'rotate':
      return rotate(img, random() < 0.5 ? -spec.severity : spec.severity);
    case 'thickness':
      return morph(img, Math.round(spec.severity));
    case 'noise':
      return img.map((v) => v + spec.severity * 255 * gaussian(random));
    case 'blur':
      return blur(img, spec.severity);
    case 'shift': {
      const angle = 2 * Math.PI * random();
      const [dx, dy] = [spec.severity * Math.cos(angle), spec.severity * Math.sin(angle)];
      return warp(img, (x, y) => [x - dx, y - dy]);
    }
    case 'invert':
      return random() < spec.severity ? img.map((v) => 255 - v) : img;
  }
}

/** The batch with every image distorted by `spec` (labels kept). */
export function applyTransform(batch: ImageBatch, spec: TransformSpec, seed: number): ImageBatch {
  const random = mulberry32(seed);
  const pixels = new Uint8Array(batch.count * MNIST_PIXELS);
  for (let i = 0; i < batch.count; i++) {
    const img = Float32Array.from(batch.pixels.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS));
    const out = transformOne(img, spec, random);
    for (let p = 0; p < MNIST_PIXELS; p++) pixels[i * MNIST_PIXELS + p] = Math.round(Math.min(Math.max(out[p], 0), 255));
  }
  return { name: `${batch.name}:${spec.kind}:${spec.severity}`, count: batch.count, pixels, labels: batch.labels };
}
