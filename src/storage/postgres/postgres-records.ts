// Records on PostgreSQL. Conditional updates and deletes are single statements (atomic on their own):
// the data-modifying CTE and the existence check run on one snapshot, so "not found" and "version
// conflict" are told apart exactly as the SQLite store does inside its transaction.
import type { DeleteResult, InsertResult, RecordRow, RecordStore, UpdateResult } from '../../core/store.ts';
import { byId, countOf, listLimit, RECORD_COLUMNS as COLUMNS, recordValues as values, recordWithSubjectSql, toRecord, toRecordWithSubject } from '../rows.ts';
import { columnArrays, inKeyOrder, type PostgresDb, type Sql } from './postgres-db.ts';

const GET_WITH_SUBJECT = recordWithSubjectSql('$1', '$2');

/** Inserts the rows that are new, in one statement, in key order (see insertSubjects); returns the keys it inserted. */
export async function insertRecords(sql: Sql, rows: readonly RecordRow[]): Promise<{ collection: string; id: string }[]> {
  if (rows.length === 0) return [];
  const columns = columnArrays(inKeyOrder(rows, (r) => [r.collection, r.id]).map(values));
  const inserted = await sql.rows(
    `INSERT INTO records (${COLUMNS})
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bytea[], $7::bigint[], $8::bigint[], $9::text[])
     ON CONFLICT (collection, id) DO NOTHING
     RETURNING collection, id`,
    columns,
  );
  return inserted.map((r) => ({ collection: String(r['collection']), id: String(r['id']) }));
}

/** The outcome of a conditional write: `done` rows changed, and whether the key exists at all. */
function outcome(r: { done?: unknown; present?: unknown } | undefined): 'done' | 'not_found' | 'version_conflict' {
  if (Number(r?.done) === 1) return 'done';
  return r?.present === true ? 'version_conflict' : 'not_found';
}

export function postgresRecords(db: PostgresDb): RecordStore {
  return {
    insert: async (row) => ((await db.run(`INSERT INTO records (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (collection, id) DO NOTHING`, values(row))) === 1 ? 'inserted' : ('exists' satisfies InsertResult)),
    insertMany: async (rows) => (await insertRecords(db, rows)).length,
    get: async (collection, id) => {
      const r = (await db.prepared('SELECT * FROM records WHERE collection = $1 AND id = $2', [collection, id]))[0];
      return r ? toRecord(r) : undefined;
    },
    getWithSubject: async (collection, id) => {
      const r = (await db.preparedArrays(GET_WITH_SUBJECT, [collection, id]))[0];
      return r ? toRecordWithSubject(r) : undefined;
    },
    getMany: async (collection, ids) => byId(ids.length === 0 ? [] : await db.prepared('SELECT * FROM records WHERE collection = $1 AND id = ANY($2::text[])', [collection, ids]), toRecord),
    update: async (row, expectedVersion) => {
      const [r] = await db.rows(
        `WITH u AS (
           UPDATE records SET version = $1, public_json = $2, sealed = $3, updated_at = $4
           WHERE collection = $5 AND id = $6 AND version = $7 AND subject = $8 AND created_by IS NOT DISTINCT FROM $9 RETURNING 1)
         SELECT (SELECT count(*) FROM u) AS done, EXISTS (SELECT 1 FROM records WHERE collection = $5 AND id = $6) AS present`,
        [row.version, row.publicJson, row.sealed, row.updatedAt, row.collection, row.id, expectedVersion, row.subject, row.createdBy],
      );
      const o = outcome(r);
      return o === 'done' ? 'updated' : (o satisfies UpdateResult);
    },
    delete: async (collection, id, expectedVersion, creator) => {
      const [r] = await db.rows(
        `WITH d AS (DELETE FROM records WHERE collection = $1 AND id = $2 AND ($3::bigint IS NULL OR version = $3) AND ($4::text IS NULL OR created_by IS NULL OR created_by = $4) RETURNING 1)
         SELECT (SELECT count(*) FROM d) AS done, EXISTS (SELECT 1 FROM records WHERE collection = $1 AND id = $2) AS present`,
        [collection, id, expectedVersion ?? null, creator ?? null],
      );
      const o = outcome(r);
      return o === 'done' ? 'deleted' : (o satisfies DeleteResult);
    },
    listBySubject: async (subject, options) => {
      const limit = listLimit(options?.limit);
      const after = options?.after;
      const coll = options?.collection;
      // Four fixed statements rather than one with optional predicates: each gets a plan that walks
      // records_by_subject in order and stops after `limit` rows.
      let rows;
      if (coll !== undefined) {
        rows = after
          ? await db.prepared('SELECT * FROM records WHERE subject = $1 AND collection = $2 AND (collection, id) > ($3, $4) ORDER BY collection, id LIMIT $5', [subject, coll, after.collection, after.id, limit])
          : await db.prepared('SELECT * FROM records WHERE subject = $1 AND collection = $2 ORDER BY collection, id LIMIT $3', [subject, coll, limit]);
      } else {
        rows = after
          ? await db.prepared('SELECT * FROM records WHERE subject = $1 AND (collection, id) > ($2, $3) ORDER BY collection, id LIMIT $4', [subject, after.collection, after.id, limit])
          : await db.prepared('SELECT * FROM records WHERE subject = $1 ORDER BY collection, id LIMIT $2', [subject, limit]);
      }
      return rows.map(toRecord);
    },
    count: async () => countOf((await db.rows('SELECT count(*) AS n FROM records'))[0]),
  };
}
