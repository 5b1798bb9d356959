// Records on PostgreSQL. Every write is one statement (atomic on its own): the data-modifying CTE and the
// existence checks run on one snapshot, so "not found" and "version conflict" are told apart exactly as
// the SQLite store does inside its transaction.
//
// Each write first locks its subject's row FOR SHARE, only if it takes writes (writableSubjectSql), in the
// same statement (RecordStore): a mark (setMovedTo) or an erasure, both UPDATEs of that row, then waits
// for the write's commit, so a re-home's copy read after its mark includes the write and an erasure
// blanks it; one committed first makes the lock find the row changed (READ COMMITTED re-checks the
// condition on the row's newest version) and the write is refused. FOR KEY SHARE would not do: it does
// not conflict with an UPDATE of non-key columns, which is what the mark and the erasure are. Writers of
// one subject share the lock and do not wait for each other. The subject's row is locked before the
// record's, the order erase, importSubject and purgeSubject take them in, so they cannot deadlock.
import type { DeleteResult, InsertManyResult, RecordInsertResult, RecordRow, RecordStore, UpdateResult } from '../../core/store.ts';
import { byId, countOf, listLimit, RECORD_COLUMNS as COLUMNS, recordValues as values, recordWithSubjectSql, toRecord, toRecordWithSubject, writableSubjectSql } from '../rows.ts';
import { columnArrays, inKeyOrder, type PostgresDb, type Sql } from './postgres-db.ts';

const GET_WITH_SUBJECT = recordWithSubjectSql('$1', '$2');
/** The subject row `id` locked FOR SHARE if it takes writes: the first CTE of every record write. */
const holdWritable = (id: string) => `${writableSubjectSql(id)} FOR SHARE`;
/** A record's columns as parameters $1..$9, typed (an INSERT … SELECT does not infer them from the columns). */
const TYPED_VALUES = '$1::text, $2::text, $3::text, $4::bigint, $5::text, $6::bytea, $7::bigint, $8::bigint, $9::text';
const INSERT = `WITH s AS (${holdWritable('$3::text')}),
  i AS (INSERT INTO records (${COLUMNS}) SELECT ${TYPED_VALUES} WHERE EXISTS (SELECT 1 FROM s) ON CONFLICT (collection, id) DO NOTHING RETURNING 1)
  SELECT (SELECT count(*) FROM i) AS done, EXISTS (SELECT 1 FROM s) AS writable`;
// A conditional write names the record's revision by version and created_at: a record deleted and
// created again starts at version 1 again, so the version alone would match the new one (RecordRevision).
const UPDATE = `WITH s AS (${holdWritable('$8::text')}),
  u AS (UPDATE records SET version = $1, public_json = $2, sealed = $3, updated_at = $4
        WHERE collection = $5 AND id = $6 AND version = $7 AND created_at = $10 AND subject = $8 AND created_by IS NOT DISTINCT FROM $9 AND EXISTS (SELECT 1 FROM s) RETURNING 1)
  SELECT (SELECT count(*) FROM u) AS done, EXISTS (SELECT 1 FROM s) AS writable, EXISTS (SELECT 1 FROM records WHERE collection = $5 AND id = $6) AS present`;
const DELETE = `WITH r AS (SELECT subject FROM records WHERE collection = $1 AND id = $2),
  s AS (${holdWritable('(SELECT subject FROM r)')}),
  d AS (DELETE FROM records WHERE collection = $1 AND id = $2 AND ($3::bigint IS NULL OR (version = $3 AND created_at = $5::bigint)) AND ($4::text IS NULL OR created_by IS NULL OR created_by = $4)
        AND EXISTS (SELECT 1 FROM s) RETURNING 1)
  SELECT (SELECT count(*) FROM d) AS done, EXISTS (SELECT 1 FROM s) AS writable, EXISTS (SELECT 1 FROM r) AS present`;
/**
 * insertMany: the rows of subjects that take writes (their rows locked FOR SHARE, in id order), in the
 * order given (key order), new keys only; and the subjects refused. One statement for the whole batch.
 */
const INSERT_MANY = `WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bytea[], $7::bigint[], $8::bigint[], $9::text[]) WITH ORDINALITY
      AS t(collection, id, subject, version, public_json, sealed, created_at, updated_at, created_by, n)),
  s AS (SELECT id FROM subjects WHERE id IN (SELECT subject FROM input) AND erased_at IS NULL AND moved_to IS NULL ORDER BY id FOR SHARE),
  i AS (INSERT INTO records (${COLUMNS})
        SELECT collection, id, subject, version, public_json, sealed, created_at, updated_at, created_by FROM input
        WHERE EXISTS (SELECT 1 FROM s WHERE s.id = input.subject) ORDER BY n
        ON CONFLICT (collection, id) DO NOTHING RETURNING 1)
  SELECT (SELECT count(*) FROM i) AS inserted,
    ARRAY(SELECT DISTINCT subject FROM input WHERE NOT EXISTS (SELECT 1 FROM s WHERE s.id = input.subject)) AS unavailable`;

/**
 * importSubject's insert, unchecked (it holds the subject's row, which it has just written): the rows that
 * are new, in one statement, in key order (see insertSubjects); returns the keys it inserted.
 */
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

/** The outcome of a conditional write: `done` rows changed, whether the subject takes writes, and whether the key exists at all. */
function outcome(r: { done?: unknown; writable?: unknown; present?: unknown } | undefined, subjectFirst: boolean): 'done' | 'not_found' | 'version_conflict' | 'subject_unavailable' {
  if (Number(r?.done) === 1) return 'done';
  // An update names its subject, checked first; a delete knows it only from a record that exists.
  if (subjectFirst && r?.writable !== true) return 'subject_unavailable';
  if (r?.present !== true) return 'not_found';
  return r.writable === true ? 'version_conflict' : 'subject_unavailable';
}

/**
 * A conflict, told apart from a record deleted meanwhile. The statement's existence check reads its
 * snapshot, taken before it waited for the row lock of a delete that then committed: the record was
 * there then, so a replace or delete that found it gone answered version_conflict where, after that
 * delete, it answers not_found. Looked at again, on the conflict path only.
 */
async function afterWait<T extends string>(db: PostgresDb, o: T | 'version_conflict', collection: string, id: string): Promise<T | 'version_conflict' | 'not_found'> {
  if (o !== 'version_conflict') return o;
  const [r] = await db.prepared('SELECT 1 AS present FROM records WHERE collection = $1 AND id = $2', [collection, id]);
  return r ? o : 'not_found';
}

/** insertMany's rows in key order, as parameter arrays. */
function batchColumns(rows: readonly RecordRow[]): unknown[][] {
  return columnArrays(inKeyOrder(rows, (r) => [r.collection, r.id]).map(values));
}

export function postgresRecords(db: PostgresDb): RecordStore {
  return {
    insert: async (row): Promise<RecordInsertResult> => {
      const [r] = await db.prepared(INSERT, values(row));
      if (Number(r?.['done']) === 1) return 'inserted';
      return r?.['writable'] === true ? 'exists' : 'subject_unavailable';
    },
    insertMany: async (rows): Promise<InsertManyResult> => {
      if (rows.length === 0) return { inserted: 0, unavailable: [] };
      const [r] = await db.rows(INSERT_MANY, batchColumns(rows));
      return { inserted: Number(r?.['inserted'] ?? 0), unavailable: (r?.['unavailable'] as string[] | undefined) ?? [] };
    },
    get: async (collection, id) => {
      const r = (await db.prepared('SELECT * FROM records WHERE collection = $1 AND id = $2', [collection, id]))[0];
      return r ? toRecord(r) : undefined;
    },
    getWithSubject: async (collection, id) => {
      const r = (await db.preparedArrays(GET_WITH_SUBJECT, [collection, id]))[0];
      return r ? toRecordWithSubject(r) : undefined;
    },
    getMany: async (collection, ids) => byId(ids.length === 0 ? [] : await db.prepared('SELECT * FROM records WHERE collection = $1 AND id = ANY($2::text[])', [collection, ids]), toRecord),
    update: async (row, expected) => {
      const [r] = await db.prepared(UPDATE, [row.version, row.publicJson, row.sealed, row.updatedAt, row.collection, row.id, expected.version, row.subject, row.createdBy, expected.createdAt]);
      const o = await afterWait(db, outcome(r, true), row.collection, row.id);
      return o === 'done' ? 'updated' : (o satisfies UpdateResult);
    },
    delete: async (collection, id, expected, creator) => {
      const [r] = await db.prepared(DELETE, [collection, id, expected?.version ?? null, creator ?? null, expected?.createdAt ?? null]);
      const o = await afterWait(db, outcome(r, false), collection, id);
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
