// Subject claims and record-id claims on PostgreSQL (core/store.ts SubjectClaimStore), as the SQLite store keeps them.
import type { SubjectClaimStore } from '../../core/store.ts';
import { toSubjectClaim, type SqlRow } from '../rows.ts';
import type { PostgresDb } from './postgres-db.ts';

const keysOf = (rows: readonly SqlRow[]) => new Set(rows.map((r) => String(r['key'])));

/**
 * Joined into a transient claim's statement (core/store.ts): commits it without waiting for the WAL flush.
 * A lone statement is its own transaction, so a setting local to it holds for its commit; what a server
 * crash may lose is at most the last fraction of a second of such claims.
 */
const UNFLUSHED = "(SELECT set_config('synchronous_commit', 'off', true)) AS unflushed";

/** The claims of one table: subject_claims, or record_claims (Store.recordClaims). */
export function postgresSubjectClaims(db: PostgresDb, table: 'subject_claims' | 'record_claims'): SubjectClaimStore {
  return {
    // In key order, as every batch that takes row locks here (postgres-db.ts inKeyOrder): two instances
    // claiming overlapping sets then wait on each other instead of deadlocking.
    claim: async (keys, holder, at, transient = false) =>
      keys.length === 0
        ? new Set()
        : keysOf(
            await db.rows(
              `INSERT INTO ${table} (key, holder, claimed_at)
               SELECT k, $2, $3 FROM (SELECT DISTINCT unnest($1::text[]) AS k) AS x${transient ? `, ${UNFLUSHED}` : ''} ORDER BY k COLLATE "C"
               ON CONFLICT (key) DO NOTHING RETURNING key`,
              [keys, holder, at],
            ),
          ),
    getMany: async (keys) => {
      const rows = keys.length === 0 ? [] : await db.rows(`SELECT * FROM ${table} WHERE key = ANY($1::text[])`, [keys]);
      return new Map(rows.map((r) => [String(r['key']), toSubjectClaim(r)]));
    },
    takeOver: async (claim, holder, at) =>
      (await db.run(`UPDATE ${table} SET holder = $1, claimed_at = $2 WHERE key = $3 AND holder = $4 AND claimed_at = $5 AND NOT completed`, [holder, at, claim.key, claim.holder, claim.claimedAt])) ===
      1,
    complete: async (keys, holder) =>
      keys.length === 0 ? new Set() : keysOf(await db.rows(`UPDATE ${table} SET completed = true WHERE key = ANY($1::text[]) AND holder = $2 RETURNING key`, [keys, holder])),
    release: async (keys, holder, transient = false) => {
      if (keys.length > 0) await db.run(`DELETE FROM ${table}${transient ? ` USING ${UNFLUSHED}` : ''} WHERE key = ANY($1::text[]) AND holder = $2 AND NOT completed`, [keys, holder]);
    },
  };
}
