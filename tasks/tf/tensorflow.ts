/** The TensorFlow.js namespace (`@tensorflow/tfjs-node` exports the same API). */
export type TensorFlow = typeof import('@tensorflow/tfjs');
