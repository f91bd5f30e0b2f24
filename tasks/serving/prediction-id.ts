/**
 * The id of one served prediction: the request's id for a single image, the
 * request's id plus `#<index>` for each image of a batch. The server returns
 * them (V2: `parameters.prediction_ids`) and logs each image under its id, so
 * a label arriving later can be joined with the prediction it is for.
 */
export function predictionId(requestId: string, index: number, count: number): string {
  return count === 1 ? requestId : `${requestId}#${index}`;
}

/** Every image's prediction id, in request order. */
export function predictionIds(requestId: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => predictionId(requestId, i, count));
}
