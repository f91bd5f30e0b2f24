import { PNG } from 'pngjs';

/** A 28x28 (or any h x w) uint8 grey image as a PNG data URI. */
export function greyPngDataUri(pixels: Uint8Array, width: number, height: number): string {
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  png.data = Buffer.from(pixels.subarray(0, width * height));
  return `data:image/png;base64,${PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false }).toString('base64')}`;
}
