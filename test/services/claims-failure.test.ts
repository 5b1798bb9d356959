// A claim that fails half-way (services/subject-claims.ts): the store inserted the claims of some ids,
// then looking up the ids claimed already failed. The caller gets the error and never learns of the
// claims taken, so they must be let go: else another instance would refuse those ids (as being registered,
// or a record id as being created) for as long as this process lives.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { SubjectClaimStore } from '../../src/core/store.ts';
import { Keyring } from '../../src/services/keyring.ts';
import { RECORD_CLAIM_LABEL, SubjectClaims } from '../../src/services/subject-claims.ts';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.ts';
import { newHolderId } from '../../src/storage/process-alive.ts';

for (const transient of [false, true]) {
  void describe(`a ${transient ? 'record-id' : 'subject'} claim that fails after the store took some of its ids`, () => {
    void it('lets go of the ids it took before it fails', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'claims-failure-'));
      const store = new SqliteStore({ path: join(dir, 'control.db') });
      try {
        const keyring = new Keyring();
        keyring.load(randomBytes(32));
        const claims = (s: SubjectClaimStore) => new SubjectClaims({ store: s, keyring, holder: newHolderId(), clock: Date.now, transient, ...(transient ? { label: RECORD_CLAIM_LABEL } : {}) });
        // Another running holder has 'c'; the failing one's look-up of it fails.
        assert.deepEqual([...(await claims(store.subjectClaims).claim(['c'])).held], ['c']);
        const failing: SubjectClaimStore = {
          ...store.subjectClaims,
          getMany: () => Promise.reject(new Error('the control store went away')),
        };
        await assert.rejects(claims(failing).claim(['a', 'b', 'c']), /went away/);
        // A third holder takes 'a' and 'b' at once: nothing of the failed attempt is left.
        assert.deepEqual([...(await claims(store.subjectClaims).claim(['a', 'b'])).held].sort(), ['a', 'b']);
      } finally {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
