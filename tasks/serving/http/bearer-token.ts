/** The bearer-token check of the server's routes (those not open to anyone). */
import { timingSafeEqual } from 'node:crypto';

/** Whether an `Authorization` header carries `Bearer <token>` (compared in constant time). */
export function tokenMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer (.+)$/i.exec(header ?? '');
  if (!match) return false;
  const given = Buffer.from(match[1]);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
