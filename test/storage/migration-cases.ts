// Schema-history tampering that every adapter must refuse, shared by the SQLite and PostgreSQL migration
// tests. Each edit applies to a database migrated with three test migrations named initial, add_b,
// index_b; `words` are what the refusal's message must name.
import assert from 'node:assert/strict';
import { EnclaveError } from '../../src/core/errors.ts';

export const HISTORY_EDITS: readonly { what: string; sql: string; words: readonly string[] }[] = [
  { what: 'a recorded checksum that no longer matches', sql: "UPDATE schema_migrations SET checksum = 'deadbeef' WHERE id = 2", words: ['migration 2', 'add_b', 'modified'] },
  { what: 'an applied migration unknown to this build', sql: "INSERT INTO schema_migrations VALUES (4, 'from_the_future', 'abc', 0)", words: ['migration 4', 'from_the_future'] },
  { what: 'a renamed migration', sql: "UPDATE schema_migrations SET name = 'add_bee' WHERE id = 2", words: ['migration 2', 'add_bee'] },
  { what: 'a gap in the history', sql: 'DELETE FROM schema_migrations WHERE id = 2', words: ['expected 2', 'index_b'] },
];

/** A predicate for assert.throws / assert.rejects: migration_refused, naming every one of `words`. */
export function refusedNaming(words: readonly string[]): (err: unknown) => true {
  return (err) => {
    assert.ok(err instanceof EnclaveError, `expected an EnclaveError, got ${String(err)}`);
    assert.equal(err.code, 'migration_refused');
    for (const w of words) assert.ok(err.message.includes(w), `${JSON.stringify(err.message)} names ${w}`);
    return true;
  };
}
