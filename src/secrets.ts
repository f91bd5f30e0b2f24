/**
 * Values of secret parameters seen by this process. Every log line, run
 * record and error message passes through `redactSecrets`, so a token given
 * as `--token` never shows, whatever line it ends up in.
 */
const secretValues = new Set<string>();
export const redacted = '[redacted]';

/** Remembers a secret value (and its JSON-escaped form) for redaction; short values (< 4 characters) are not worth hiding and would mangle text. */
export function registerSecret(value: string): void {
  if (value.length < 4) return;
  secretValues.add(value);
  const escaped = JSON.stringify(value).slice(1, -1);
  if (escaped !== value) secretValues.add(escaped);
}

/** `text` with every known secret value replaced by `[redacted]`. */
export function redactSecrets(text: string): string {
  if (secretValues.size === 0) return text;
  let out = text;
  for (const secret of secretValues) if (out.includes(secret)) out = out.split(secret).join(redacted);
  return out;
}
