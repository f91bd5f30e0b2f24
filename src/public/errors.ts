/**
 * The error classes alone, as a public entry point: for code that must not
 * load the whole library (worker threads, the TensorFlow.js set-up), where
 * `src/index.ts` would cost each thread about half a second.
 */
export * from '../errors';
