/**
 * The store entry point (`dagwright/store`): the store parsed once, and the
 * readers that never trust what a store holds. For ML tasks and applications
 * that keep formats of their own in a store.
 */
export { isStore, parseStore, type Store, toStore } from '../store/store';
export { DamagedFileError, parseJsonLines, parseStoredJson, readStoredJson, shape, type ShapeCheck } from '../store/stored-file';
