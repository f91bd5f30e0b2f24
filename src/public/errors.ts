/**
 * The errors entry point (`dagwright/errors`): the library's error classes,
 * each saying when it is thrown (an executor's own errors come with it, from
 * dagwright/executors). It loads no more than the errors, for code that must
 * not load the whole library (worker threads, the TensorFlow.js set-up),
 * where `src/index.ts` would cost each thread about half a second.
 */
export * from '../errors';
