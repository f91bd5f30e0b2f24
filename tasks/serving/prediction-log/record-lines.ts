/**
 * Prediction records as JSON lines, written as `JSON.stringify` writes a
 * `PredictionRecord` (same keys, order and number text) without building an
 * object and an array a record. Measured: building the record and
 * stringifying it cost about 17 us an image, the prediction log's share of a
 * 32-image request more than its parsing and answering together. Here the
 * parts the records of a version share are written once, the pixels once as
 * base64 and each probability once as a number.
 */

/** A number as JSON.stringify writes it (`null` for NaN and the infinities). */
function jsonNumber(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}

/** Writes the lines of the records of one model version's images of one shape; each `line` call is one image. */
export class RecordLines {
  private readonly middle: string;

  constructor(
    model: string,
    readonly version: number,
    readonly shape: readonly number[],
  ) {
    this.middle = `,"model":${JSON.stringify(model)},"version":${jsonNumber(version)},"shape":${JSON.stringify(shape.map(Number))},"pixels":"`;
  }

  /** One record's line (no newline). `time` is an ISO time; `probabilities[from, to)` are the image's class probabilities. */
  line(time: string, requestId: string, pixels: Uint8Array, probabilities: ArrayLike<number>, from: number, to: number, label: number): string {
    let scores = '';
    for (let i = from; i < to; i++) scores += i === from ? jsonNumber(probabilities[i]) : `,${jsonNumber(probabilities[i])}`;
    const base64 = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength).toString('base64');
    return `{"time":${JSON.stringify(time)},"requestId":${JSON.stringify(requestId)}${this.middle}${base64}","probabilities":[${scores}],"label":${jsonNumber(label)}}`;
  }
}
