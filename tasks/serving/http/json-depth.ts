/**
 * A bound on how deep a request body nests lists and objects. JSON.parse
 * reads any depth, but whatever walks the result recursively afterwards
 * (flattening `data`, JSON.stringify in an error message) overflows the
 * stack at a few thousand levels: a hostile body would get a 500. A tensor
 * needs a handful of levels (instances of images of rows of pixels), so a
 * body nested deeper than this is refused with a 400 before any route sees
 * it. The check walks with its own stack: any depth is answered.
 */
import { ServeRequestError } from '../errors';
import type { ParseJson } from './binary-tensors';

/** The deepest nesting of lists and objects a request body may have. */
export const MAX_BODY_DEPTH = 32;

/** Throws a 400 (ServeRequestError) when `value` nests lists or objects more than `MAX_BODY_DEPTH` deep. */
export function checkBodyDepth(value: unknown): void {
  const containers: unknown[] = [value];
  const depths: number[] = [1];
  while (containers.length > 0) {
    const container = containers.pop();
    const depth = depths.pop()!;
    if (typeof container !== 'object' || container === null || ArrayBuffer.isView(container)) continue;
    if (depth > MAX_BODY_DEPTH) {
      throw new ServeRequestError(
        400,
        `the request body nests lists or objects more than ${MAX_BODY_DEPTH} deep: send each tensor's data as a flat list (or nested no deeper than its shape) with its "shape".`,
      );
    }
    const items = Array.isArray(container) ? container : Object.values(container);
    for (const item of items) {
      // Only containers go on the stack: a list of numbers costs one look per number.
      if (typeof item === 'object' && item !== null) {
        containers.push(item);
        depths.push(depth + 1);
      }
    }
  }
}

/** `parseJson` whose result is checked by `checkBodyDepth`. */
export function depthChecked(parseJson: ParseJson): ParseJson {
  return (text) => {
    const parsed = parseJson(text);
    checkBodyDepth(parsed);
    return parsed;
  };
}
