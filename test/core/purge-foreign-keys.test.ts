// The purge's check for dangling references compares rows, not totals: one that already dangled and
// goes with the purge does not hide one the purge leaves dangling.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DanglingReference } from '../../src/core/migration-source.ts';
import { danglingRefusal } from '../../src/core/purge-foreign-keys.ts';

const ref = (table: string, row: string | null, key = 'foreign key 0'): DanglingReference => ({ table, key, row });
const purged = ['accounts', 'messages'];

void describe('danglingRefusal', () => {
  void it('lets a purge through that adds no dangling row, whatever was there before and is gone after', () => {
    assert.equal(danglingRefusal([], [], purged), undefined);
    assert.equal(danglingRefusal([ref('notes', '3')], [ref('notes', '3')], purged), undefined);
    assert.equal(danglingRefusal([ref('accounts', '7'), ref('notes', '3')], [ref('notes', '3')], purged), undefined);
  });

  void it('refuses one new dangling row where another one went: the totals are equal', () => {
    const refusal = danglingRefusal([ref('accounts', '7')], [ref('invites', '1')], purged);
    assert.match(refusal ?? '', /^deleting would leave 1 row\(s\) referring to purged rows, in invites \(foreign key 0\): 1 /);
  });

  void it('tells rows apart by table and key as well as by rowid', () => {
    assert.match(danglingRefusal([ref('notes', '3')], [ref('notes', '3'), ref('invites', '3'), ref('notes', '3', 'foreign key 1')], purged) ?? '', /leave 2 row\(s\) .* in invites \(foreign key 0\): 1; notes \(foreign key 1\): 1 /);
  });

  void it('counts rows without a rowid per table and key where the purge does not delete, and refuses each in a table it deletes from', () => {
    assert.equal(danglingRefusal([ref('likes', null), ref('likes', null)], [ref('likes', null), ref('likes', null)], purged), undefined);
    assert.match(danglingRefusal([ref('likes', null)], [ref('likes', null), ref('likes', null)], purged) ?? '', /leave 1 row\(s\) .* in likes \(foreign key 0\): 1 /);
    const refusal = danglingRefusal([ref('messages', null)], [ref('messages', null)], purged);
    assert.match(refusal ?? '', /leave 1 row\(s\) .* in messages \(foreign key 0\): 1 .*a WITHOUT ROWID table the purge deletes from has no rowid to tell a new one from one that was there before, so each counts/);
  });
});
