/**
 * What the generic training code reads off a classifier: the shape of one
 * sample (the model's input without the batch axis) and the number of
 * classes (the last axis of its [batch, classes] output).
 */
import type * as tfjs from '@tensorflow/tfjs';
import { ModelShapeError } from './errors';

export interface ModelGeometry {
  /** Shape of one sample, e.g. [28, 28, 1]. */
  sampleShape: number[];
  /** Numbers per sample (the product of sampleShape). */
  sampleSize: number;
  classes: number;
}

export function modelGeometry(model: tfjs.LayersModel): ModelGeometry {
  const input = model.inputs[0].shape;
  const [batch, ...shape] = input;
  if (model.inputs.length !== 1 || batch !== null || shape.some((d) => d === null)) {
    throw new ModelShapeError(`Expected a model with one input of shape [null, ...fixed sizes], got [${input.join(', ')}]`);
  }
  const output = model.outputs[0].shape;
  const classes = output[1];
  if (model.outputs.length !== 1 || output.length !== 2 || classes === null) {
    throw new ModelShapeError(`Expected a model with one output of shape [null, classes], got [${output.join(', ')}]`);
  }
  const sampleShape = shape as number[];
  return { sampleShape, sampleSize: sampleShape.reduce((a, b) => a * b, 1), classes };
}
