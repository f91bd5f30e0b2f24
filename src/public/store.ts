/**
 * The store entry point (`dagwright/store`): the store parsed once, the file
 * systems behind targets (and a scheme of your own), the readers that never
 * trust what a store holds, locks and the run history kept in a store.
 */
export { isStore, parseStore, type Store, toStore } from '../store/store';
export { DamagedFileError, parseJsonLines, parseStoredJson, readStoredJson, shape, type ShapeCheck } from '../store/stored-file';
export type { FileSystem, DirectoryWriter, FolderEntry, WriteBody } from '../targets/file-system';
export { LocalFileSystem } from '../targets/local-file-system';
export { S3FileSystem, type S3FileSystemOptions } from '../targets/s3-file-system';
export { createS3Client, type S3ClientSettings } from '../targets/s3-client';
export { registerScheme, type SchemeHandler } from '../targets/uri';
export { withStoreLock, type StoreLockOptions } from '../locks/store-lock';
export { currentRunOwner, runOwnerState, type RunOwner } from '../locks/run-owner';
export { RunHistory } from '../history/run-history';
export type { RunRecord, RunStatus } from '../history/run-record';
