/** Names of environment variables and log fields whose values are credentials. */
const secretKey = /SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|API_?KEY|PRIVATE_?KEY|AUTHORIZATION|COOKIE/i;

export const redacted = '[redacted]';

export function isSecretKey(key: string): boolean {
  return secretKey.test(key);
}

/**
 * Removes credentials from what a step logs: the values of secret-named
 * environment variables wherever they appear in a line, and the values of
 * secret-named fields of JSON log lines.
 */
export class Redactor {
  private readonly values: string[];

  constructor(env: Readonly<Record<string, string>> = {}) {
    // Longest first, so a secret that contains another is replaced whole. Very short values would mangle ordinary text.
    this.values = Object.entries(env)
      .filter(([key, value]) => isSecretKey(key) && value.length >= 4)
      .map(([, value]) => value)
      .sort((a, b) => b.length - a.length);
  }

  text(line: string): string {
    let out = line;
    for (const value of this.values) if (out.includes(value)) out = out.split(value).join(redacted);
    return out;
  }

  /** A copy of a parsed log record with secret-named fields and secret values replaced. */
  value(value: unknown, depth = 0): unknown {
    if (typeof value === 'string') return this.text(value);
    if (value === null || typeof value !== 'object' || depth > 8) return value;
    if (Array.isArray(value)) return value.map((v) => this.value(v, depth + 1));
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, isSecretKey(k) && v !== null && v !== undefined && v !== '' ? redacted : this.value(v, depth + 1)]),
    );
  }

  /** Environment as `KEY=value` lines safe to log. */
  env(env: Readonly<Record<string, string>>): Record<string, string> {
    return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, isSecretKey(k) ? redacted : this.text(v)]));
  }
}
