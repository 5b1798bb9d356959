// Subjects on PostgreSQL: the wrapped data keys live here, so erasure overwrites the key in the same
// transaction that blanks the subject's public fields, then asks the store to vacuum (see scrub()).
import type { InsertResult, SubjectRow, SubjectStore } from '../../core/store.ts';
import { byId, countOf, markedBySql, SUBJECT_COLUMNS as COLUMNS, subjectValues as values, toSubject, UNMARK_SQL } from '../rows.ts';
import { columnArrays, inKeyOrder, type PostgresDb, type Sql } from './postgres-db.ts';

/**
 * Inserts the rows that are new, in one statement; returns how many it inserted. In id order: each row
 * inserted holds its key until commit, so two instances loading overlapping batches in different orders
 * would each wait on a key the other holds (a deadlock); in one order, one simply waits for the other.
 */
export async function insertSubjects(sql: Sql, rows: readonly SubjectRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const columns = columnArrays(inKeyOrder(rows, (r) => [r.id]).map(values));
  return sql.run(
    `INSERT INTO subjects (${COLUMNS})
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::text[], $6::bigint[], $7::bigint[], $8::text[], $9::text[], $10::bigint[])
     ON CONFLICT (id) DO NOTHING`,
    columns,
  );
}

/** The compare-and-set condition on the move mark: parameter `$n` is the expected owner (null: unmarked). */
const markedBy = (n: number) => markedBySql(`$${n}::text`);

export function postgresSubjects(db: PostgresDb, scrub: () => Promise<void>): SubjectStore {
  return {
    insert: async (row) => {
      const n = await db.run(`INSERT INTO subjects (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING`, values(row));
      return n === 1 ? 'inserted' : ('exists' satisfies InsertResult);
    },
    insertMany: async (rows) => insertSubjects(db, rows),
    get: async (id) => {
      const r = (await db.prepared('SELECT * FROM subjects WHERE id = $1', [id]))[0];
      return r ? toSubject(r) : undefined;
    },
    getMany: async (ids) => byId(ids.length === 0 ? [] : await db.prepared('SELECT * FROM subjects WHERE id = ANY($1::text[])', [ids]), toSubject),
    erase: async (id, at, owner = null) => {
      const n = await db.tx(async (sql) => {
        if ((await sql.run(`UPDATE subjects SET wrapped_key = NULL, erased_at = $1, ${UNMARK_SQL} WHERE id = $2 AND erased_at IS NULL AND ${markedBy(3)}`, [at, id, owner])) !== 1) return undefined;
        return sql.run(`UPDATE records SET public_json = '{}', updated_at = $1 WHERE subject = $2`, [at, id]);
      });
      if (n !== undefined) await scrub();
      return n;
    },
    setResidence: async (id, country, jurisdiction) => (await db.run('UPDATE subjects SET country = $1, jurisdiction = $2 WHERE id = $3', [country, jurisdiction, id])) === 1,
    setMovedTo: async (id, mark, expectedOwner) =>
      (await db.run(`UPDATE subjects SET moved_to = $1::text, move_owner = $2, move_started_at = $3 WHERE id = $4 AND ${markedBy(5)} AND ($1::text IS NULL OR erased_at IS NULL)`, [
        mark?.site ?? null,
        mark?.owner ?? null,
        mark?.startedAt ?? null,
        id,
        expectedOwner,
      ])) === 1,
    count: async () => countOf((await db.rows('SELECT count(*) AS n FROM subjects'))[0]),
  };
}
