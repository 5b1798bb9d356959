import { createHash } from 'node:crypto';

/** Checksum of a migration's text, as recorded in its history row. */
export function migrationChecksum(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}
