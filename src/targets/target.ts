/**
 * Something a task produces. The whole contract is `exists()`: a task is
 * complete when every target it declares exists.
 */
export interface Target {
  /** Where the target lives, as a URI or path, for logs and error messages. */
  readonly uri: string;
  exists(): Promise<boolean>;
}

export function isTarget(value: unknown): value is Target {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Target).exists === 'function' &&
    typeof (value as Target).uri === 'string'
  );
}
