// The storage conformance suite: every Store adapter (SQLite, PostgreSQL) runs this same suite,
// so the vault can rely on identical behaviour whichever store a site uses.
//
// `open` returns a ready store; it may be a fresh database per call or the same database again: every
// test uses ids of its own and measures counts as differences, so a shared database works too. Each
// store is closed after its test; `cleanup` runs once after the whole suite.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { beforeEach, describe, it } from 'node:test';
import type { AccessRequestRow, ApprovalRow, GrantRow, PrincipalRow, ProposalRow, RecordRevision, RecordRow, Store, SubjectRow, TokenRow, TokenWithPrincipal } from '../../src/core/store.ts';
import { UNMARKED } from '../../src/core/store.ts';
import { openPerTest } from './suite-lifecycle.ts';

const hex = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString('hex'));

/** Rows with their bytes as hex, so deepEqual compares content whatever Uint8Array subclass a driver returns. */
function plainSubject(r: SubjectRow | undefined): unknown {
  return r === undefined ? undefined : { ...r, wrappedKey: hex(r.wrappedKey) };
}
function plainRecord(r: RecordRow | undefined): unknown {
  return r === undefined ? undefined : { ...r, sealed: hex(r.sealed) };
}

// Timestamps beyond 2^32 and 2^41 catch adapters that truncate to 32-bit integers.
const T0 = 1_700_000_000_123;
/** A record revision: the version of the incarnation created at `createdAt` (the test rows' T0 unless given). */
const at = (version: number, createdAt = T0): RecordRevision => ({ version, createdAt });

export interface ConformanceOptions {
  /** A reason to skip the whole suite (e.g. its server is not reachable), printed by the test runner. */
  readonly skip?: string | false;
}

export function storeConformance(name: string, open: () => Promise<Store> | Store, cleanup?: () => Promise<void>, options: ConformanceOptions = {}): void {
  void describe(`Store conformance: ${name}`, { skip: options.skip ?? false }, () => {
    let store: Store;
    /** A prefix unique to the running test, so tests never see each other's rows. */
    let ns: string;
    openPerTest(open, cleanup, (s, n) => {
      store = s;
      ns = n;
    });

    const subject = (id: string, over: Partial<SubjectRow> = {}): SubjectRow => ({
      id: `${ns}-${id}`,
      country: 'US',
      jurisdiction: 'us',
      // Include zero bytes: drivers that treat BLOBs as C strings lose everything after one.
      wrappedKey: Buffer.concat([Buffer.of(1, 0, 0, 255), randomBytes(56)]),
      keyId: 'k1',
      createdAt: T0,
      erasedAt: null,
      ...UNMARKED,
      ...over,
    });
    const record = (collection: string, id: string, subjectId: string, over: Partial<RecordRow> = {}): RecordRow => ({
      collection,
      id: `${ns}-${id}`,
      subject: `${ns}-${subjectId}`,
      version: 1,
      publicJson: JSON.stringify({ name: `public ${id}`, note: 'ñ 日本 🎉' }),
      sealed: Buffer.concat([Buffer.of(1, 0), randomBytes(40)]),
      createdAt: T0,
      updatedAt: T0,
      createdBy: `${ns}-creator`,
      ...over,
    });
    const principal = (id: string, over: Partial<PrincipalRow> = {}): PrincipalRow => ({ id: `${ns}-${id}`, org: 'platform', role: 'service', createdAt: T0, ...over });
    const token = (id: string, principalId: string, over: Partial<TokenRow> = {}): TokenRow => ({
      id: `${ns}-${id}`,
      hash: randomBytes(32).toString('hex'),
      principalId: `${ns}-${principalId}`,
      label: `label ${id}`,
      createdAt: T0,
      expiresAt: null,
      revokedAt: null,
      replaces: null,
      lineage: `${ns}-${id}`,
      ...over,
    });
    const plainToken = (t: TokenWithPrincipal | undefined): unknown => (t === undefined ? undefined : { token: { ...t.token }, principal: { ...t.principal } });

    void describe('subjects', () => {
      void it('insert stores the row exactly (bytes, nulls, large timestamps) and get returns it', async () => {
        const row = subject('a', { country: 'DE', jurisdiction: 'eu', createdAt: 2 ** 41 + 7 });
        assert.equal(await store.subjects.insert(row), 'inserted');
        assert.deepEqual(plainSubject(await store.subjects.get(row.id)), plainSubject(row));
        const moved = subject('b', { movedTo: 'eu-central', moveOwner: 'host:1:ab', moveStartedAt: 2 ** 41 + 9, erasedAt: T0 + 5, wrappedKey: null });
        assert.equal(await store.subjects.insert(moved), 'inserted');
        assert.deepEqual(plainSubject(await store.subjects.get(moved.id)), plainSubject(moved));
      });

      void it('get of an unknown id is undefined', async () => {
        assert.equal(await store.subjects.get(`${ns}-nobody`), undefined);
      });

      void it('getMany returns exactly the stored rows among the ids asked, by id, whatever their number', async () => {
        const a = subject('a', { country: 'DE', jurisdiction: 'eu' });
        const b = subject('b', { movedTo: 'eu-central', erasedAt: T0 + 5, wrappedKey: null });
        await store.subjects.insertMany([a, b]);
        const found = await store.subjects.getMany([a.id, `${ns}-nobody`, b.id, a.id]);
        assert.deepEqual([...found.keys()].sort(), [a.id, b.id].sort());
        assert.deepEqual(plainSubject(found.get(a.id)), plainSubject(a));
        assert.deepEqual(plainSubject(found.get(b.id)), plainSubject(b));
        assert.equal((await store.subjects.getMany([])).size, 0);
        // More ids than a statement takes parameters (SQLite: 32,766): one lookup all the same.
        const many = Array.from({ length: 40_000 }, (_, i) => `${ns}-x${i}`);
        assert.deepEqual([...(await store.subjects.getMany([...many, b.id])).keys()], [b.id]);
      });

      void it('insert of an existing id answers "exists" and leaves the stored row untouched', async () => {
        const first = subject('a');
        await store.subjects.insert(first);
        const second = subject('a', { country: 'FR', jurisdiction: 'eu', createdAt: T0 + 1 });
        assert.equal(await store.subjects.insert(second), 'exists');
        assert.deepEqual(plainSubject(await store.subjects.get(first.id)), plainSubject(first));
      });

      void it('insertMany inserts new subjects, leaves existing ones untouched and returns how many it inserted', async () => {
        const existing = subject('a');
        await store.subjects.insert(existing);
        const batch = [subject('a', { country: 'FR', jurisdiction: 'eu' }), subject('b'), subject('c', { country: 'DE', jurisdiction: 'eu' })];
        assert.equal(await store.subjects.insertMany(batch), 2);
        assert.deepEqual(plainSubject(await store.subjects.get(existing.id)), plainSubject(existing));
        for (const s of batch.slice(1)) assert.deepEqual(plainSubject(await store.subjects.get(s.id)), plainSubject(s));
        assert.equal(await store.subjects.insertMany(batch), 0, 'a repeated load inserts nothing (idempotent)');
        assert.equal(await store.subjects.insertMany([]), 0);
      });

      void it('insertMany of a batch naming an id twice, in any order of ids, keeps the first of the two', async () => {
        await store.subjects.insertMany([subject('z'), subject('m'), subject('m', { country: 'FR', jurisdiction: 'eu' }), subject('a')]);
        assert.equal((await store.subjects.get(`${ns}-m`))?.country, 'US');
        const first = record('users', 'r-m', 'm', { publicJson: '{"n":1}' });
        const batch = [record('users', 'r-z', 'z'), first, record('users', 'r-a', 'a'), record('users', 'r-m', 'm', { publicJson: '{"n":2}' })];
        assert.equal((await store.records.insertMany(batch)).inserted, 3);
        assert.deepEqual(plainRecord(await store.records.get('users', first.id)), plainRecord(first));
      });

      void it('subjects.insertMany is one transaction: a row the store refuses rolls back the whole batch', async () => {
        const before = await store.subjects.count();
        const good = subject('good');
        const bad = { ...subject('bad'), country: null as unknown as string };
        await assert.rejects(store.subjects.insertMany([good, bad]));
        assert.equal(await store.subjects.get(good.id), undefined);
        assert.equal(await store.subjects.count(), before);
      });

      void it('count counts every subject, erased or not', async () => {
        const before = await store.subjects.count();
        await store.subjects.insert(subject('a'));
        await store.subjects.insert(subject('b'));
        await store.subjects.insert(subject('a')); // exists: not counted twice
        assert.equal(await store.subjects.count(), before + 2);
        await store.subjects.erase(`${ns}-a`, T0 + 1);
        assert.equal(await store.subjects.count(), before + 2);
      });

      void it('setMovedTo sets and clears the in-flight destination with its holder; unknown subject answers false', async () => {
        const row = subject('a');
        await store.subjects.insert(row);
        assert.equal(await store.subjects.setMovedTo(row.id, { site: 'eu-central', owner: 'h:1:a', startedAt: 2 ** 41 + 3 }, null), true);
        const marked = await store.subjects.get(row.id);
        assert.deepEqual([marked?.movedTo, marked?.moveOwner, marked?.moveStartedAt], ['eu-central', 'h:1:a', 2 ** 41 + 3]);
        assert.equal(await store.subjects.setMovedTo(row.id, null, 'h:1:a'), true);
        const back = await store.subjects.get(row.id);
        // Nothing else changed.
        assert.deepEqual(plainSubject(back), plainSubject(row));
        assert.equal(await store.subjects.setMovedTo(`${ns}-nobody`, { site: 'x', owner: 'h:1:a', startedAt: T0 }, null), false);
        assert.equal(await store.subjects.get(`${ns}-nobody`), undefined);
      });

      void it('setMovedTo is a compare-and-set on the holder: from unmarked only with null, from a mark only naming its holder', async () => {
        const row = subject('a');
        await store.subjects.insert(row);
        const mark = (site: string, owner: string) => ({ site, owner, startedAt: T0 + 1 });
        const markOf = async () => {
          const r = await store.subjects.get(row.id);
          return [r?.movedTo, r?.moveOwner];
        };
        assert.equal(await store.subjects.setMovedTo(row.id, mark('eu-central', 'h:1:a'), null), true);
        // A second re-home that read the row unmarked loses, whatever its destination.
        assert.equal(await store.subjects.setMovedTo(row.id, mark('trusted-uk', 'h:2:b'), null), false);
        assert.equal(await store.subjects.setMovedTo(row.id, mark('eu-central', 'h:2:b'), null), false);
        // Naming another holder than the one marked changes nothing either, nor does clearing.
        assert.equal(await store.subjects.setMovedTo(row.id, mark('trusted-uk', 'h:2:b'), 'h:3:c'), false);
        assert.equal(await store.subjects.setMovedTo(row.id, null, 'h:3:c'), false);
        assert.equal(await store.subjects.setMovedTo(row.id, null, null), false);
        assert.deepEqual(await markOf(), ['eu-central', 'h:1:a']);
        // Taking the mark over names the holder it replaces; then the old holder can do nothing.
        assert.equal(await store.subjects.setMovedTo(row.id, mark('trusted-uk', 'h:2:b'), 'h:1:a'), true);
        assert.equal(await store.subjects.setMovedTo(row.id, null, 'h:1:a'), false);
        assert.deepEqual(await markOf(), ['trusted-uk', 'h:2:b']);
        assert.equal(await store.subjects.setMovedTo(row.id, null, 'h:2:b'), true);
        assert.deepEqual(await markOf(), [null, null]);
      });

      void it('of many marks set at once from the unmarked row, exactly one holds', async () => {
        const row = subject('a');
        await store.subjects.insert(row);
        const owners = Array.from({ length: 8 }, (_, i) => `h:${i}:x`);
        const won = await Promise.all(owners.map((owner, i) => store.subjects.setMovedTo(row.id, { site: `site-${i}`, owner, startedAt: T0 }, null)));
        assert.equal(won.filter(Boolean).length, 1);
        const winner = won.indexOf(true);
        const r = await store.subjects.get(row.id);
        assert.deepEqual([r?.movedTo, r?.moveOwner], [`site-${winner}`, owners[winner]]);
      });

      void it('a subject marked as moving is not erased, and an erased subject is not marked as moving (whichever comes first wins)', async () => {
        const moving = subject('mv');
        const gone = subject('gn');
        await store.subjects.insert(moving);
        await store.subjects.insert(gone);
        assert.equal(await store.subjects.setMovedTo(moving.id, { site: 'eu-central', owner: 'h:1:a', startedAt: T0 }, null), true);
        assert.equal(await store.subjects.erase(moving.id, T0 + 1), undefined);
        assert.equal(await store.subjects.erase(moving.id, T0 + 1, 'h:2:b'), undefined, 'nor by naming another holder');
        assert.ok((await store.subjects.get(moving.id))?.wrappedKey, 'the key stays while the move is under way');
        assert.equal(await store.subjects.erase(gone.id, T0 + 1), 0);
        assert.equal(await store.subjects.setMovedTo(gone.id, { site: 'eu-central', owner: 'h:1:a', startedAt: T0 }, null), false);
        assert.equal((await store.subjects.get(gone.id))?.movedTo, null);
        // Clearing the mark is always possible for its holder.
        assert.equal(await store.subjects.setMovedTo(moving.id, null, 'h:1:a'), true);
      });

      void it('erase naming the holder of the mark erases the subject and clears the mark', async () => {
        const row = subject('a');
        await store.subjects.insert(row);
        await store.records.insert(record('users', 'a1', 'a'));
        assert.equal(await store.subjects.setMovedTo(row.id, { site: 'eu-central', owner: 'h:1:a', startedAt: T0 }, null), true);
        assert.equal(await store.subjects.erase(row.id, T0 + 7, 'h:1:a'), 1);
        const erased = await store.subjects.get(row.id);
        assert.deepEqual([erased?.wrappedKey, erased?.erasedAt, erased?.movedTo, erased?.moveOwner, erased?.moveStartedAt], [null, T0 + 7, null, null, null]);
        assert.equal(await store.subjects.erase(row.id, T0 + 8, 'h:1:a'), undefined, 'once');
      });

      void it('erase destroys the wrapped key, blanks public fields of their records only, keeps ciphertext, returns the record count', async () => {
        const victim = subject('v');
        const other = subject('o');
        await store.subjects.insert(victim);
        await store.subjects.insert(other);
        const v1 = record('users', 'v1', 'v');
        const v2 = record('messages', 'v2', 'v', { sealed: null });
        const o1 = record('users', 'o1', 'o');
        await store.records.insertMany([v1, v2, o1]);

        assert.equal(await store.subjects.erase(victim.id, T0 + 1000), 2);

        const erased = await store.subjects.get(victim.id);
        assert.ok(erased);
        assert.equal(erased.wrappedKey, null);
        assert.equal(erased.erasedAt, T0 + 1000);
        assert.equal(erased.country, victim.country);
        for (const r of [v1, v2]) {
          const after = await store.records.get(r.collection, r.id);
          assert.ok(after, `record ${r.id} still exists after erasure (crypto-shredding keeps the row)`);
          assert.equal(after.publicJson, '{}');
          assert.equal(hex(after.sealed), hex(r.sealed), 'the ciphertext stays, unreadable without the key');
          assert.equal(after.subject, r.subject);
        }
        // The other subject is untouched.
        assert.deepEqual(plainSubject(await store.subjects.get(other.id)), plainSubject(other));
        assert.deepEqual(plainRecord(await store.records.get('users', o1.id)), plainRecord(o1));

        assert.equal(await store.subjects.erase(victim.id, T0 + 2000), undefined, 'a second erase is a no-op');
        assert.equal((await store.subjects.get(victim.id))?.erasedAt, T0 + 1000, 'the first erasure time is kept');
        assert.equal(await store.subjects.erase(`${ns}-nobody`, T0), undefined);
      });

      void it('erase of a subject without records returns 0', async () => {
        await store.subjects.insert(subject('a'));
        assert.equal(await store.subjects.erase(`${ns}-a`, T0 + 1), 0);
      });
    });

    void describe('records', () => {
      // Record writes need their subject's row here, writable (see 'record writes and their subject').
      beforeEach(async () => {
        await store.subjects.insertMany(['s', 's2', 't', 'other', 'c0', 'c1', 'c2', 'c3', 'c4'].map((id) => subject(id)));
      });

      void it('insert stores the row exactly and get returns it; a row without protected fields keeps sealed null', async () => {
        const r = record('users', 'r1', 's', { version: 7, createdAt: T0, updatedAt: 2 ** 41 + 3 });
        assert.equal(await store.records.insert(r), 'inserted');
        assert.deepEqual(plainRecord(await store.records.get('users', r.id)), plainRecord(r));
        const p = record('videos', 'r2', 's', { sealed: null, createdBy: null });
        assert.equal(await store.records.insert(p), 'inserted');
        assert.deepEqual(plainRecord(await store.records.get('videos', p.id)), plainRecord(p));
      });

      void it('getWithSubject returns the record with its subject row as stored, erased or not', async () => {
        // (A record without its subject's row here is undefined's case; the port can no longer store one.)
        const s = (await store.subjects.get(`${ns}-s`)) as SubjectRow;
        const r = record('users', 'r1', 's', { version: 3, updatedAt: 2 ** 41 + 3 });
        await store.records.insertMany([r]);
        const both = await store.records.getWithSubject('users', r.id);
        assert.deepEqual(plainRecord(both?.record), plainRecord(r));
        assert.deepEqual(plainSubject(both?.subject), plainSubject(s));
        assert.equal(await store.records.getWithSubject('messages', r.id), undefined, 'the key is (collection, id)');
        assert.equal(await store.records.getWithSubject('users', `${ns}-nothing`), undefined);

        await store.subjects.setMovedTo(s.id, { site: 'eu-1', owner: 'h:1:a', startedAt: T0 }, null);
        const moving = (await store.records.getWithSubject('users', r.id))?.subject;
        assert.deepEqual([moving?.movedTo, moving?.moveOwner, moving?.moveStartedAt], ['eu-1', 'h:1:a', T0], 'every column of the mark, in its place');
        await store.subjects.setMovedTo(s.id, null, 'h:1:a');
        await store.subjects.erase(s.id, T0 + 5);
        const erased = await store.records.getWithSubject('users', r.id);
        assert.deepEqual([erased?.subject?.erasedAt, erased?.subject?.wrappedKey, erased?.record.publicJson], [T0 + 5, null, '{}']);
      });

      void it('getWithSubject called many times at once answers each call with its own row', async () => {
        // The SQLite adapter runs the lookups that arrive together as one batch (sqlite-read-batch.ts).
        for (let i = 0; i < 5; i++) await store.subjects.insert(subject(`c${i}`));
        const rows = Array.from({ length: 40 }, (_, i) => record(i % 2 === 0 ? 'users' : 'messages', `c-r${i}`, `c${i % 5}`, { version: i + 1 }));
        await store.records.insertMany(rows);
        const asked = [...rows.map((r) => [r.collection, r.id] as const), ['users', `${ns}-nothing`] as const, ['messages', rows[0]?.id ?? ''] as const];
        const got = await Promise.all(asked.map(([c, id]) => store.records.getWithSubject(c, id)));
        assert.deepEqual(
          got.map((g) => (g ? [g.record.collection, g.record.id, g.record.version, g.subject?.id] : undefined)),
          [...rows.map((r) => [r.collection, r.id, r.version, r.subject]), undefined, undefined],
        );
      });

      void it('get of an unknown key is undefined; the key is (collection, id)', async () => {
        const r = record('users', 'r1', 's');
        await store.records.insert(r);
        assert.equal(await store.records.get('users', `${ns}-nothing`), undefined);
        assert.equal(await store.records.get('messages', r.id), undefined);
      });

      void it('getMany returns the stored rows of one collection among the ids asked, by id', async () => {
        const u = record('users', 'a', 's');
        const m = record('messages', 'b', 's', { sealed: null });
        const other = record('messages', 'a', 's');
        await store.records.insertMany([u, m, other]);
        const users = await store.records.getMany('users', [u.id, m.id, `${ns}-none`]);
        assert.deepEqual([...users.keys()], [u.id], 'only rows of the collection asked');
        assert.deepEqual(plainRecord(users.get(u.id)), plainRecord(u));
        const messages = await store.records.getMany('messages', [u.id, m.id]);
        assert.deepEqual(plainRecord(messages.get(m.id)), plainRecord(m));
        assert.deepEqual(plainRecord(messages.get(u.id)), plainRecord(other), 'the same id in another collection is another row');
        assert.equal((await store.records.getMany('users', [])).size, 0);
        assert.equal((await store.records.getMany('users', [`${ns}-'); DROP TABLE records; --`, `${ns}-"q"`])).size, 0);
      });

      void it('insert of an existing key answers "exists" and leaves the row untouched; the same id in another collection is another row', async () => {
        const r = record('users', 'r1', 's');
        await store.records.insert(r);
        assert.equal(await store.records.insert({ ...r, publicJson: '{"changed":true}', version: 2, sealed: null }), 'exists');
        assert.deepEqual(plainRecord(await store.records.get('users', r.id)), plainRecord(r));
        const same = { ...r, collection: 'messages' };
        assert.equal(await store.records.insert(same), 'inserted');
        assert.deepEqual(plainRecord(await store.records.get('messages', r.id)), plainRecord(same));
      });

      void it('insertMany inserts new rows, leaves existing rows untouched and returns how many it inserted', async () => {
        const existing = record('users', 'a', 's');
        await store.records.insert(existing);
        const batch = [{ ...existing, publicJson: '{"overwritten":true}', version: 9 }, record('users', 'b', 's'), record('messages', 'c', 's'), record('devices', 'd', 's2')];
        assert.deepEqual(await store.records.insertMany(batch), { inserted: 3, unavailable: [] });
        assert.deepEqual(plainRecord(await store.records.get('users', existing.id)), plainRecord(existing));
        for (const r of batch.slice(1)) assert.deepEqual(plainRecord(await store.records.get(r.collection, r.id)), plainRecord(r));
        assert.deepEqual(await store.records.insertMany(batch), { inserted: 0, unavailable: [] }, 'a repeated load inserts nothing (idempotent)');
        assert.deepEqual(await store.records.insertMany([]), { inserted: 0, unavailable: [] });
      });

      void it('insertMany is one transaction: a row the store refuses rolls back the whole batch', async () => {
        const before = await store.records.count();
        const good = record('users', 'good', 's');
        const bad = { ...record('users', 'bad', 's'), publicJson: null as unknown as string };
        await assert.rejects(store.records.insertMany([good, bad]));
        assert.equal(await store.records.get('users', good.id), undefined);
        assert.equal(await store.records.count(), before);
      });

      void it('update replaces the row when the expected version matches', async () => {
        const r = record('users', 'r1', 's');
        await store.records.insert(r);
        const next: RecordRow = { ...r, version: 2, publicJson: '{"name":"second"}', sealed: randomBytes(30), updatedAt: T0 + 50 };
        assert.equal(await store.records.update(next, at(1)), 'updated');
        assert.deepEqual(plainRecord(await store.records.get('users', r.id)), plainRecord(next));
        const cleared: RecordRow = { ...next, version: 3, sealed: null, updatedAt: T0 + 60 };
        assert.equal(await store.records.update(cleared, at(2)), 'updated');
        assert.deepEqual(plainRecord(await store.records.get('users', r.id)), plainRecord(cleared));
      });

      void it('update with a stale expected version answers version_conflict and changes nothing', async () => {
        const r = record('users', 'r1', 's');
        await store.records.insert(r);
        await store.records.update({ ...r, version: 2, updatedAt: T0 + 1 }, at(1));
        const stored = await store.records.get('users', r.id);
        assert.equal(await store.records.update({ ...r, version: 2, publicJson: '{"lost":"update"}' }, at(1)), 'version_conflict');
        assert.deepEqual(plainRecord(await store.records.get('users', r.id)), plainRecord(stored));
      });

      void it('update of a missing record answers not_found and creates nothing', async () => {
        const r = record('users', 'ghost', 's', { version: 2 });
        assert.equal(await store.records.update(r, at(1)), 'not_found');
        assert.equal(await store.records.get('users', r.id), undefined);
      });

      void it('update never moves a record to another subject', async () => {
        const r = record('users', 'r1', 's');
        await store.records.insert(r);
        await store.subjects.insert(subject('thief'));
        const outcome = await store.records.update({ ...r, subject: `${ns}-thief`, version: 2, publicJson: '{"stolen":true}' }, at(1));
        assert.equal(outcome, 'version_conflict');
        assert.deepEqual(plainRecord(await store.records.get('users', r.id)), plainRecord(r));
      });

      void it('update never replaces a record created by another than the row says (deleted and created again meanwhile), and keeps an unknown creator', async () => {
        const r = record('users', 'r1', 's');
        await store.records.insert(r);
        // Another principal deleted it and created its own under the id, at the same version.
        await store.records.delete('users', r.id);
        const theirs = record('users', 'r1', 's', { createdBy: `${ns}-app`, publicJson: '{"by":"app"}' });
        await store.records.insert(theirs);
        assert.equal(await store.records.update({ ...r, version: 2, publicJson: '{"by":"migration"}' }, at(1)), 'version_conflict');
        assert.deepEqual(plainRecord(await store.records.get('users', r.id)), plainRecord(theirs));
        const old = record('users', 'r2', 's', { createdBy: null });
        await store.records.insert(old);
        assert.equal(await store.records.update({ ...old, version: 2, updatedAt: T0 + 1 }, at(1)), 'updated');
        assert.equal((await store.records.get('users', old.id))?.createdBy, null);
      });

      void it('update and delete at a revision never touch a record deleted and created again under the key (same version, subject and creator, another incarnation)', async () => {
        const first = record('users', 'r1', 's');
        await store.records.insert(first);
        assert.equal(await store.records.delete('users', first.id), 'deleted');
        const second = record('users', 'r1', 's', { createdAt: T0 + 5, updatedAt: T0 + 5, publicJson: '{"incarnation":2}' });
        assert.equal(await store.records.insert(second), 'inserted');
        assert.equal(await store.records.update({ ...first, version: 2, publicJson: '{"lost":"update"}', updatedAt: T0 + 6 }, at(1)), 'version_conflict');
        assert.equal(await store.records.delete('users', first.id, at(1)), 'version_conflict');
        assert.equal(await store.records.delete('users', first.id, at(1), first.createdBy ?? undefined), 'version_conflict');
        assert.deepEqual(plainRecord(await store.records.get('users', first.id)), plainRecord(second), 'the new incarnation is unchanged');
        // At its own revision it is written and deleted.
        const next: RecordRow = { ...second, version: 2, publicJson: '{"incarnation":2,"v":2}', updatedAt: T0 + 7 };
        assert.equal(await store.records.update(next, at(1, T0 + 5)), 'updated');
        assert.deepEqual(plainRecord(await store.records.get('users', first.id)), plainRecord(next));
        assert.equal(await store.records.delete('users', first.id, at(2)), 'version_conflict');
        assert.equal(await store.records.delete('users', first.id, at(2, T0 + 5)), 'deleted');
        assert.equal(await store.records.get('users', first.id), undefined);
      });

      void it('delete with a creator deletes only a record that principal created, or one whose creator is not known', async () => {
        const mine = record('users', 'r1', 's', { createdBy: `${ns}-migration` });
        const theirs = record('users', 'r2', 's', { createdBy: `${ns}-app` });
        const unknown = record('users', 'r3', 's', { createdBy: null });
        await store.records.insertMany([mine, theirs, unknown]);
        assert.equal(await store.records.delete('users', theirs.id, undefined, `${ns}-migration`), 'version_conflict');
        assert.deepEqual(plainRecord(await store.records.get('users', theirs.id)), plainRecord(theirs));
        assert.equal(await store.records.delete('users', mine.id, undefined, `${ns}-migration`), 'deleted');
        assert.equal(await store.records.delete('users', unknown.id, at(1), `${ns}-migration`), 'deleted');
        assert.equal(await store.records.delete('users', mine.id, undefined, `${ns}-migration`), 'not_found');
      });

      void it('delete without a version deletes; a second delete answers not_found', async () => {
        const r = record('users', 'r1', 's');
        const keep = record('users', 'r2', 's');
        await store.records.insertMany([r, keep]);
        assert.equal(await store.records.delete('users', r.id), 'deleted');
        assert.equal(await store.records.get('users', r.id), undefined);
        assert.equal(await store.records.delete('users', r.id), 'not_found');
        assert.equal(await store.records.delete('messages', keep.id), 'not_found', 'the key includes the collection');
        assert.deepEqual(plainRecord(await store.records.get('users', keep.id)), plainRecord(keep));
      });

      void it('delete with an expected version deletes only that version', async () => {
        const r = record('users', 'r1', 's', { version: 3 });
        await store.records.insert(r);
        assert.equal(await store.records.delete('users', r.id, at(2)), 'version_conflict');
        assert.deepEqual(plainRecord(await store.records.get('users', r.id)), plainRecord(r));
        assert.equal(await store.records.delete('users', r.id, at(3)), 'deleted');
        assert.equal(await store.records.get('users', r.id), undefined);
        assert.equal(await store.records.delete('users', r.id, at(3)), 'not_found');
      });

      void it('listBySubject returns only that subject\'s records, ordered by collection then id', async () => {
        const rows = [
          record('users', 'b', 's'),
          record('messages', 'c', 's'),
          record('users', 'a', 's'),
          record('messages', 'a', 's'),
          record('devices', 'z', 's'),
          record('users', 'x', 'other'),
        ];
        await store.records.insertMany(rows);
        const got = await store.records.listBySubject(`${ns}-s`);
        assert.deepEqual(
          got.map((r) => [r.collection, r.id]),
          [
            ['devices', `${ns}-z`],
            ['messages', `${ns}-a`],
            ['messages', `${ns}-c`],
            ['users', `${ns}-a`],
            ['users', `${ns}-b`],
          ],
        );
        // Full rows, not just keys.
        const first = rows[4];
        assert.ok(first);
        assert.deepEqual(plainRecord(got[0]), plainRecord(first));
        assert.deepEqual(await store.records.listBySubject(`${ns}-nobody`), []);
      });

      void it('listBySubject filters by collection and honours limit', async () => {
        await store.records.insertMany([record('users', 'a', 's'), record('users', 'b', 's'), record('users', 'c', 's'), record('messages', 'a', 's')]);
        const users = await store.records.listBySubject(`${ns}-s`, { collection: 'users' });
        assert.deepEqual(users.map((r) => r.id), [`${ns}-a`, `${ns}-b`, `${ns}-c`]);
        assert.ok(users.every((r) => r.collection === 'users'));
        const two = await store.records.listBySubject(`${ns}-s`, { limit: 2 });
        assert.deepEqual(two.map((r) => [r.collection, r.id]), [['messages', `${ns}-a`], ['users', `${ns}-a`]]);
        assert.deepEqual(await store.records.listBySubject(`${ns}-s`, { collection: 'devices' }), []);
      });

      void it('listBySubject pages with a keyset cursor across collections, each record exactly once', async () => {
        // Ids with mixed case and punctuation: the walk must be complete whatever the adapter's collation.
        const ids = ['A', 'a', 'B.1', 'b-2', 'c:3', 'C_4', '0', 'z9', 'Zz'];
        const rows = ['comments', 'messages', 'users'].flatMap((c) => ids.map((id) => record(c, id, 's')));
        await store.records.insertMany(rows);
        const all = await store.records.listBySubject(`${ns}-s`);
        assert.equal(all.length, rows.length);
        for (const limit of [1, 2, 4, 7]) {
          const walked: RecordRow[] = [];
          let after: { collection: string; id: string } | undefined;
          for (let guard = 0; guard < 100; guard++) {
            const page = await store.records.listBySubject(`${ns}-s`, { limit, ...(after ? { after } : {}) });
            assert.ok(page.length <= limit);
            walked.push(...page);
            const last = page.at(-1);
            if (page.length < limit || !last) break;
            after = { collection: last.collection, id: last.id };
          }
          assert.deepEqual(
            walked.map((r) => `${r.collection}/${r.id}`),
            all.map((r) => `${r.collection}/${r.id}`),
            `pages of ${limit} concatenate to the full list`,
          );
        }
      });

      void it('listBySubject with a collection filter and a cursor pages within that collection', async () => {
        await store.records.insertMany(['a', 'b', 'c', 'd'].flatMap((id) => [record('users', id, 's'), record('messages', id, 's')]));
        const p1 = await store.records.listBySubject(`${ns}-s`, { collection: 'users', limit: 2 });
        assert.deepEqual(p1.map((r) => r.id), [`${ns}-a`, `${ns}-b`]);
        const p2 = await store.records.listBySubject(`${ns}-s`, { collection: 'users', limit: 2, after: { collection: 'users', id: `${ns}-b` } });
        assert.deepEqual(p2.map((r) => `${r.collection}/${r.id}`), [`users/${ns}-c`, `users/${ns}-d`]);
        // The cursor is a (collection, id) position: after a position in an earlier collection, the
        // filtered collection starts from its beginning; after one in a later collection, nothing is left.
        const fromEarlier = await store.records.listBySubject(`${ns}-s`, { collection: 'users', after: { collection: 'messages', id: `${ns}-z` } });
        assert.deepEqual(fromEarlier.map((r) => r.id), [`${ns}-a`, `${ns}-b`, `${ns}-c`, `${ns}-d`]);
        const fromLater = await store.records.listBySubject(`${ns}-s`, { collection: 'messages', after: { collection: 'users', id: `${ns}-a` } });
        assert.deepEqual(fromLater, []);
      });

      void it('count counts records across subjects and collections', async () => {
        const before = await store.records.count();
        await store.records.insertMany([record('users', 'a', 's'), record('messages', 'a', 's'), record('users', 'b', 't')]);
        assert.equal(await store.records.count(), before + 3);
        await store.records.delete('users', `${ns}-a`);
        assert.equal(await store.records.count(), before + 2);
      });
    });

    void describe('record writes and their subject', () => {
      // A write checks its subject's row atomically with it: a write that waited (for its log entry) while
      // another instance re-homed or erased the subject must not land, be lost, or restore public fields.
      type State = 'missing' | 'erased' | 'marked';
      const STATES: readonly State[] = ['missing', 'erased', 'marked'];
      /** A subject `<state>` with the record `<state>-r` (stored while they took writes), then put in that state. */
      async function given(state: State): Promise<{ id: string; stored: RecordRow | undefined }> {
        const id = `${ns}-${state}`;
        if (state === 'missing') return { id, stored: undefined };
        await store.subjects.insert(subject(state));
        const r = record('users', `${state}-r`, state);
        assert.equal(await store.records.insert(r), 'inserted');
        if (state === 'erased') assert.equal(await store.subjects.erase(id, T0 + 1), 1);
        else assert.equal(await store.subjects.setMovedTo(id, { site: 'eu-central', owner: 'h:1:a', startedAt: T0 }, null), true);
        return { id, stored: await store.records.get('users', r.id) };
      }

      for (const state of STATES) {
        void it(`insert and insertMany are refused for a subject ${state} here, writing nothing; rows of other subjects are inserted`, async () => {
          const { id } = await given(state);
          const before = await store.records.count();
          const fresh = record('users', `${state}-new`, state);
          assert.equal(await store.records.insert(fresh), 'subject_unavailable');
          assert.equal(await store.records.get('users', fresh.id), undefined);
          // Refused before `exists`: the key a subject's record already has.
          if (state !== 'missing') assert.equal(await store.records.insert(record('users', `${state}-r`, state, { version: 5 })), 'subject_unavailable');
          await store.subjects.insert(subject('ok'));
          const ok = record('users', `${state}-ok`, 'ok');
          const batch = [record('messages', `${state}-m1`, state), ok, fresh, record('devices', `${state}-d1`, state)];
          assert.deepEqual(await store.records.insertMany(batch), { inserted: 1, unavailable: [id] });
          assert.deepEqual(plainRecord(await store.records.get('users', ok.id)), plainRecord(ok));
          assert.deepEqual(await store.records.listBySubject(id), state === 'missing' ? [] : [await store.records.get('users', `${ns}-${state}-r`)]);
          assert.equal(await store.records.count(), before + 1);
        });

        void it(`update and delete are refused for a subject ${state} here, changing nothing`, async () => {
          const { stored } = await given(state);
          const r = stored ?? record('users', `${state}-r`, state);
          const next: RecordRow = { ...r, version: r.version + 1, publicJson: '{"name":"restored?"}', updatedAt: T0 + 9 };
          assert.equal(await store.records.update(next, at(r.version, r.createdAt)), 'subject_unavailable', 'checked before not_found and version_conflict');
          assert.equal(await store.records.update({ ...next, version: 9 }, at(8)), 'subject_unavailable');
          if (stored) {
            assert.deepEqual(plainRecord(await store.records.get('users', r.id)), plainRecord(stored), 'not updated');
            assert.equal(await store.records.delete('users', r.id), 'subject_unavailable');
            assert.equal(await store.records.delete('users', r.id, at(r.version, r.createdAt), r.createdBy ?? undefined), 'subject_unavailable');
            assert.deepEqual(plainRecord(await store.records.get('users', r.id)), plainRecord(stored), 'not deleted');
          }
          assert.equal(await store.records.delete('users', `${ns}-${state}-none`), 'not_found', 'a delete of no record is not_found');
        });
      }

      void it('writes go through again once the mark is cleared; a subject erased while marked stays refused', async () => {
        const { id, stored } = await given('marked');
        assert.ok(stored);
        assert.equal(await store.subjects.setMovedTo(id, null, 'h:1:a'), true);
        const next: RecordRow = { ...stored, version: 2, publicJson: '{"name":"after"}', updatedAt: T0 + 2 };
        assert.equal(await store.records.update(next, at(1)), 'updated');
        assert.equal(await store.records.insert(record('users', 'marked-2', 'marked')), 'inserted');
        assert.deepEqual((await store.records.insertMany([record('users', 'marked-3', 'marked')])), { inserted: 1, unavailable: [] });
        assert.equal(await store.records.delete('users', `${ns}-marked-2`), 'deleted');
        assert.equal(await store.subjects.setMovedTo(id, { site: 'eu-central', owner: 'h:2:b', startedAt: T0 }, null), true);
        assert.equal(await store.subjects.erase(id, T0 + 3, 'h:2:b'), 2);
        assert.equal(await store.records.update({ ...next, version: 3 }, at(2)), 'subject_unavailable');
        assert.equal((await store.records.get('users', stored.id))?.publicJson, '{}', 'the erased public fields stay blank');
      });
    });

    void describe('tokens', () => {
      void it('create stores a new principal and its token; findByHash returns both', async () => {
        const p = principal('alice', { org: 'gatekeeper', role: 'officer' });
        const t = token('t1', 'alice', { expiresAt: T0 + 3_600_000 });
        assert.equal(await store.tokens.create(p, t), 'created');
        assert.deepEqual(plainToken(await store.tokens.findByHash(t.hash)), { token: t, principal: p });
      });

      void it('findByHash of an unknown hash is undefined', async () => {
        assert.equal(await store.tokens.findByHash(randomBytes(32).toString('hex')), undefined);
      });

      void it('a second token for the same principal with the same org and role is created; the principal keeps its first creation time', async () => {
        const p = principal('svc');
        await store.tokens.create(p, token('t1', 'svc'));
        const t2 = token('t2', 'svc', { createdAt: T0 + 10 });
        assert.equal(await store.tokens.create({ ...p, createdAt: T0 + 10 }, t2), 'created');
        assert.deepEqual(plainToken(await store.tokens.findByHash(t2.hash)), { token: t2, principal: p });
      });

      void it('the same principal id with another org or role is principal_mismatch and no token is stored', async () => {
        const p = principal('bob', { org: 'platform', role: 'service' });
        await store.tokens.create(p, token('t1', 'bob'));
        const otherOrg = token('t2', 'bob');
        assert.equal(await store.tokens.create({ ...p, org: 'parent' }, otherOrg), 'principal_mismatch');
        assert.equal(await store.tokens.findByHash(otherOrg.hash), undefined);
        const otherRole = token('t3', 'bob');
        assert.equal(await store.tokens.create({ ...p, role: 'officer' }, otherRole), 'principal_mismatch');
        assert.equal(await store.tokens.findByHash(otherRole.hash), undefined);
        const listed = (await store.tokens.list()).filter((t) => t.principal.id === p.id);
        assert.deepEqual(listed.map((t) => t.token.id), [`${ns}-t1`]);
        assert.ok(listed.every((t) => t.principal.org === 'platform' && t.principal.role === 'service'));
      });

      void it('a token hash is unique: a duplicate is refused and nothing of that call is stored', async () => {
        const t1 = token('t1', 'carol');
        await store.tokens.create(principal('carol'), t1);
        await assert.rejects(store.tokens.create(principal('dave', { org: 'parent', role: 'engineer' }), token('t2', 'dave', { hash: t1.hash })));
        // The first token is intact and the failed call left neither token nor principal behind:
        // "dave" can still be created with another org and role.
        assert.deepEqual(plainToken(await store.tokens.findByHash(t1.hash)), { token: t1, principal: principal('carol') });
        assert.equal((await store.tokens.list()).some((t) => t.token.id === `${ns}-t2`), false);
        assert.equal(await store.tokens.create(principal('dave', { org: 'regulator', role: 'auditor' }), token('t3', 'dave')), 'created');
      });

      void it('a token id is unique: a duplicate id is refused', async () => {
        await store.tokens.create(principal('erin'), token('t1', 'erin'));
        const dup = token('t1', 'erin');
        await assert.rejects(store.tokens.create(principal('erin'), dup));
        assert.equal(await store.tokens.findByHash(dup.hash), undefined);
      });

      void it('revoke marks the token revoked once and answers what it revoked; unknown or already revoked answers nothing', async () => {
        const t = token('t1', 'frank');
        await store.tokens.create(principal('frank'), t);
        assert.deepEqual(await store.tokens.revoke(t.id, T0 + 99), [t.id]);
        assert.equal((await store.tokens.findByHash(t.hash))?.token.revokedAt, T0 + 99);
        assert.deepEqual(await store.tokens.revoke(t.id, T0 + 200), []);
        assert.equal((await store.tokens.findByHash(t.hash))?.token.revokedAt, T0 + 99, 'the first revocation time is kept');
        assert.deepEqual(await store.tokens.revoke(`${ns}-nothing`, T0), []);
      });

      void it('rotate revokes the token and creates its successor in its lineage at once; a revoked, unknown or foreign token creates nothing', async () => {
        const p = principal('rita');
        const t0 = token('t0', 'rita', { expiresAt: T0 + 9_000 });
        await store.tokens.create(p, t0);
        const t1 = token('t1', 'rita', { createdAt: T0 + 1, expiresAt: T0 + 9_000, lineage: t0.id });
        assert.equal(await store.tokens.rotate(t0.id, t1, T0 + 1), 'rotated');
        assert.deepEqual(plainToken(await store.tokens.get(t0.id)), { token: { ...t0, revokedAt: T0 + 1 }, principal: p });
        assert.deepEqual(plainToken(await store.tokens.findByHash(t1.hash)), { token: { ...t1, replaces: t0.id }, principal: p });
        const again = token('t2', 'rita', { createdAt: T0 + 2, lineage: t0.id });
        assert.equal(await store.tokens.rotate(t0.id, again, T0 + 2), 'not_active', 'a token is replaced once');
        assert.equal(await store.tokens.rotate(`${ns}-nothing`, { ...again, lineage: `${ns}-nothing` }, T0 + 2), 'not_active');
        await store.tokens.create(principal('sam'), token('s0', 'sam'));
        assert.equal(await store.tokens.rotate(`${ns}-s0`, token('s1', 'rita', { lineage: `${ns}-s0` }), T0 + 2), 'not_active', 'never into another principal');
        assert.equal(await store.tokens.rotate(t1.id, token('t3', 'rita', { lineage: `${ns}-elsewhere` }), T0 + 2), 'not_active', 'never out of its lineage');
        for (const id of ['t2', 's1', 't3']) assert.equal(await store.tokens.get(`${ns}-${id}`), undefined, `${id} was not created`);
        assert.equal((await store.tokens.get(t1.id))?.token.revokedAt, null, 'a refused rotation revoked nothing');
      });

      void it('revoking any token of a lineage revokes the token in force, however often it was rotated; lineage lists the chain', async () => {
        const t0 = token('t0', 'tess');
        await store.tokens.create(principal('tess'), t0);
        const chain = [t0];
        for (let i = 1; i <= 3; i++) {
          const next = token(`t${i}`, 'tess', { createdAt: T0 + i, lineage: t0.id });
          assert.equal(await store.tokens.rotate(chain[i - 1]?.id ?? '', next, T0 + i), 'rotated');
          chain.push(next);
        }
        const other = token('u0', 'tess');
        await store.tokens.create(principal('tess'), other);
        assert.deepEqual((await store.tokens.lineage(t0.id)).map((t) => [t.token.id, t.token.replaces]), chain.map((t, i) => [t.id, i === 0 ? null : (chain[i - 1]?.id ?? null)]));
        assert.deepEqual(await store.tokens.revoke(`${ns}-t1`, T0 + 50), [`${ns}-t3`], 'an old id of the chain revokes the token in force');
        assert.equal((await store.tokens.get(`${ns}-t3`))?.token.revokedAt, T0 + 50);
        assert.equal((await store.tokens.get(other.id))?.token.revokedAt, null, 'another token of the principal is not of the lineage');
        assert.equal(await store.tokens.rotate(`${ns}-t3`, token('t4', 'tess', { lineage: t0.id }), T0 + 51), 'not_active');
      });

      void it('a revocation at the same moment as a rotation never leaves the rotated token in force', async () => {
        await store.tokens.create(principal('uma'), token('base', 'uma'));
        for (let i = 0; i < 25; i++) {
          const t0 = token(`r${i}-0`, 'uma');
          await store.tokens.create(principal('uma'), t0);
          const t1 = token(`r${i}-1`, 'uma', { lineage: t0.id });
          const [rotated] = await Promise.all([store.tokens.rotate(t0.id, t1, T0 + i), store.tokens.revoke(t0.id, T0 + i)]);
          const after = await store.tokens.lineage(t0.id);
          assert.deepEqual(after.filter((t) => t.token.revokedAt === null).map((t) => t.token.id), [], `round ${i}: ${rotated}`);
        }
      });

      void it('list returns every token with its principal, oldest first', async () => {
        const a = principal('gina', { org: 'gatekeeper', role: 'officer' });
        const b = principal('hal', { org: 'parent', role: 'engineer' });
        const t3 = token('t3', 'hal', { createdAt: T0 + 3 });
        const t1 = token('t1', 'gina', { createdAt: T0 + 1 });
        const t2 = token('t2', 'gina', { createdAt: T0 + 2, expiresAt: T0 + 9 });
        await store.tokens.create(b, t3);
        await store.tokens.create(a, t1);
        await store.tokens.create(a, t2);
        await store.tokens.revoke(t1.id, T0 + 5);
        const mine = (await store.tokens.list()).filter((t) => t.token.id.startsWith(`${ns}-`)).map(plainToken);
        assert.deepEqual(mine, [
          { token: { ...t1, revokedAt: T0 + 5 }, principal: a },
          { token: t2, principal: a },
          { token: t3, principal: b },
        ]);
      });
    });

    // Record-id claims (Store.recordClaims) keep the same contract in a table of their own.
    for (const kind of ['subjectClaims', 'recordClaims'] as const) {
      void describe(kind === 'subjectClaims' ? 'subject claims' : 'record-id claims', () => {
        const sorted = (keys: Iterable<string>) => [...keys].sort();
        const claims = () => store[kind];

        void it('claim takes the keys no one holds, once, and a second holder gets none of them', async () => {
          const [a, b, c] = [`${ns}-a`, `${ns}-b`, `${ns}-c`];
          assert.deepEqual(sorted(await claims().claim([a, b, a], 'h1', T0)), [a, b], 'a key given twice is claimed once');
          assert.deepEqual(sorted(await claims().claim([b, c], 'h2', T0 + 1)), [c]);
          assert.deepEqual(sorted(await claims().claim([], 'h2', T0)), []);
          const held = await claims().getMany([a, b, c, `${ns}-none`]);
          assert.deepEqual(
            sorted(held.keys()).map((k) => held.get(k)),
            [
              { key: a, holder: 'h1', claimedAt: T0, completed: false },
              { key: b, holder: 'h1', claimedAt: T0, completed: false },
              { key: c, holder: 'h2', claimedAt: T0 + 1, completed: false },
            ],
          );
        });

        void it('complete marks only what the holder holds; a completed claim is never taken over nor released', async () => {
          const [a, b] = [`${ns}-a`, `${ns}-b`];
          await claims().claim([a], 'h1', T0);
          await claims().claim([b], 'h2', T0);
          assert.deepEqual(sorted(await claims().complete([a, b], 'h1')), [a]);
          const claimA = (await claims().getMany([a])).get(a);
          assert.ok(claimA?.completed);
          assert.equal(await claims().takeOver(claimA, 'h3', T0 + 5), false);
          await claims().release([a, b], 'h1');
          assert.deepEqual(sorted((await claims().getMany([a, b])).keys()), [a, b], 'neither a completed claim nor another holder\'s is released');
          await claims().release([b], 'h2');
          assert.deepEqual(sorted((await claims().getMany([a, b])).keys()), [a]);
          assert.deepEqual(sorted(await claims().claim([b], 'h3', T0)), [b], 'a released key can be claimed again');
        });

        void it('takeOver is a compare-and-set on the claim as read: of two that read it, one wins', async () => {
          const a = `${ns}-a`;
          await claims().claim([a], 'dead', T0);
          const read = (await claims().getMany([a])).get(a);
          assert.ok(read);
          const results = await Promise.all([claims().takeOver(read, 'h1', T0 + 1), claims().takeOver(read, 'h2', T0 + 2)]);
          assert.deepEqual(results.filter(Boolean).length, 1);
          const now = (await claims().getMany([a])).get(a);
          assert.equal(now?.holder, results[0] ? 'h1' : 'h2');
          assert.equal(await claims().takeOver({ ...read, claimedAt: read.claimedAt + 1 }, 'h3', T0), false, 'a claim not as read is left alone');
          assert.deepEqual(sorted(await claims().complete([a], now?.holder ?? '')), [a]);
        });

        void it('a transient claim (a record id while it is created) is claimed, refused and released as any claim', async () => {
          const [a, b] = [`${ns}-ta`, `${ns}-tb`];
          assert.deepEqual(sorted(await claims().claim([a, b], 'h1', T0, true)), [a, b]);
          assert.deepEqual(sorted(await claims().claim([a], 'h2', T0, true)), [], 'held by another');
          assert.deepEqual(sorted(await claims().claim([b], 'h2', T0)), [], 'held, whichever kind the new one is');
          await claims().release([a, b], 'h2', true);
          assert.deepEqual(sorted((await claims().getMany([a, b])).keys()), [a, b], 'another holder\'s is not released');
          await claims().release([a, b], 'h1', true);
          assert.deepEqual(sorted((await claims().getMany([a, b])).keys()), []);
          // Durable writes after transient ones keep working and are kept.
          assert.deepEqual(sorted(await claims().claim([a], 'h2', T0)), [a]);
          assert.deepEqual(sorted(await claims().complete([a], 'h2')), [a]);
        });
      });
    }

    void it('subject claims and record-id claims are apart: a key held in one is free in the other', async () => {
      const k = `${ns}-apart`;
      assert.deepEqual([...(await store.subjectClaims.claim([k], 'h1', T0))], [k]);
      assert.deepEqual([...(await store.recordClaims.claim([k], 'h2', T0, true))], [k]);
      await store.recordClaims.release([k], 'h2', true);
      assert.equal((await store.recordClaims.getMany([k])).size, 0);
      assert.equal((await store.subjectClaims.getMany([k])).get(k)?.holder, 'h1');
    });

    void describe('meta', () => {
      void it('get of an absent key is undefined', async () => {
        assert.equal(await store.meta.get(`${ns}-absent`), undefined);
      });

      void it('putIfAbsent writes once and never overwrites', async () => {
        const key = `${ns}-seal`;
        assert.equal(await store.meta.putIfAbsent(key, 'first'), true);
        assert.equal(await store.meta.putIfAbsent(key, 'second'), false);
        assert.equal(await store.meta.get(key), 'first');
      });

      void it('put creates and overwrites; values round-trip exactly', async () => {
        const key = `${ns}-doc`;
        await store.meta.put(key, 'v1');
        assert.equal(await store.meta.get(key), 'v1');
        const big = JSON.stringify({ text: 'ñ 日本 🎉 \u0000 "quoted"\n', n: Array.from({ length: 2000 }, (_, i) => i) });
        await store.meta.put(key, big);
        assert.equal(await store.meta.get(key), big);
        await store.meta.put(key, '');
        assert.equal(await store.meta.get(key), '');
        assert.equal(await store.meta.putIfAbsent(key, 'x'), false, 'an empty value is still present');
      });

      void it('replace writes only over the value expected (compare-and-set); of two at once, one', async () => {
        const key = `${ns}-cas`;
        assert.equal(await store.meta.replace(key, 'v0', 'v1'), false, 'an absent key is not replaced');
        assert.equal(await store.meta.get(key), undefined);
        await store.meta.put(key, 'v0');
        assert.equal(await store.meta.replace(key, 'other', 'v1'), false);
        assert.equal(await store.meta.get(key), 'v0');
        const won = await Promise.all([store.meta.replace(key, 'v0', 'a'), store.meta.replace(key, 'v0', 'b')]);
        assert.deepEqual(won.filter(Boolean).length, 1);
        assert.equal(await store.meta.get(key), won[0] ? 'a' : 'b');
      });
    });

    // ---- the gatekeeper's sub-stores (control store) ----------------------------------------------
    const request = (id: string, over: Partial<AccessRequestRow> = {}): AccessRequestRow => ({
      id: `${ns}-${id}`,
      kind: 'access',
      requester: `${ns}-alice`,
      requesterOrg: 'gatekeeper',
      requesterRole: 'officer',
      scope: JSON.stringify({ subjects: ['s-1'], collections: ['messages'], fields: [] }),
      purpose: 'support',
      justificationCode: 'support-ticket',
      justification: 'ticket 4711: the user cannot see their messages — ñ 日本',
      durationMs: 3_600_000,
      digest: `sha256:${randomBytes(32).toString('hex')}`,
      createdAt: T0,
      expiresAt: T0 + 86_400_000,
      status: 'pending',
      decidedAt: null,
      grantId: null,
      ...over,
    });
    const grant = (id: string, requestId: string, over: Partial<GrantRow> = {}): GrantRow => ({
      id: `${ns}-${id}`,
      requestId: `${ns}-${requestId}`,
      principal: `${ns}-alice`,
      scope: JSON.stringify({ subjects: ['s-1'], collections: ['messages'], fields: [] }),
      purpose: 'support',
      breakglass: false,
      createdAt: T0 + 10,
      expiresAt: T0 + 3_600_010,
      revokedAt: null,
      revokedBy: null,
      ...over,
    });
    const approval = (target: string, approver: string, over: Partial<ApprovalRow> = {}): ApprovalRow => ({
      target: `${ns}-${target}`,
      approver: `${ns}-${approver}`,
      approverOrg: 'gatekeeper',
      approverRole: 'officer',
      digest: 'sha256:abc',
      verdict: 'approve',
      comment: '',
      at: T0 + 5,
      ...over,
    });
    const proposal = (id: string, over: Partial<ProposalRow> = {}): ProposalRow => ({
      id: `${ns}-${id}`,
      kind: 'policy',
      proposer: `${ns}-alice`,
      proposerOrg: 'gatekeeper',
      proposerRole: 'officer',
      payload: JSON.stringify({ text: '@id("x") permit (principal, action, resource);', base_version: 1, description: '' }),
      digest: `sha256:${randomBytes(32).toString('hex')}`,
      createdAt: T0,
      expiresAt: T0 + 86_400_000,
      status: 'pending',
      decidedAt: null,
      outcome: null,
      ...over,
    });
    const mineOnly = <T extends { id: string }>(rows: readonly T[]) => rows.filter((r) => r.id.startsWith(`${ns}-`));

    void describe('access requests and grants', () => {
      void it('insert stores the request exactly; a second insert of the id answers exists and changes nothing', async () => {
        const r = request('r1');
        assert.equal(await store.accessRequests.insert(r), 'inserted');
        assert.deepEqual(await store.accessRequests.get(r.id), r);
        assert.equal(await store.accessRequests.insert({ ...r, purpose: 'legal' }), 'exists');
        assert.deepEqual(await store.accessRequests.get(r.id), r);
        assert.equal(await store.accessRequests.get(`${ns}-none`), undefined);
      });

      void it('a break-glass request is inserted with its grant in one transaction', async () => {
        const r = request('bg', { kind: 'breakglass', status: 'approved', decidedAt: T0, grantId: `${ns}-g` });
        const g = grant('g', 'bg', { breakglass: true, createdAt: T0 });
        assert.equal(await store.accessRequests.insert(r, g), 'inserted');
        assert.deepEqual(await store.accessRequests.get(r.id), r);
        assert.deepEqual(await store.grants.get(g.id), g);
        // A grant that cannot be stored (its id taken) takes its request down with it.
        const r2 = request('bg2', { kind: 'breakglass', status: 'approved' });
        await assert.rejects(store.accessRequests.insert(r2, grant('g', 'bg2')));
        assert.equal(await store.accessRequests.get(r2.id), undefined);
      });

      void it('a break-glass insert with maxOpen counts its grantee\'s open break-glass grants in the same transaction', async () => {
        const open = (id: string, over: Partial<GrantRow> = {}) => {
          const g = grant(`g${id}`, id, { breakglass: true, createdAt: T0, expiresAt: T0 + 1000, ...over });
          return [request(id, { kind: 'breakglass', status: 'approved', decidedAt: g.createdAt, grantId: g.id, requester: g.principal }), g] as const;
        };
        const openIds = async (principal: string, at: number) => (await store.grants.openBreakGlass(`${ns}-${principal}`, at)).map((g) => g.id.slice(ns.length + 1));
        assert.equal(await store.accessRequests.insert(...open('a', { expiresAt: T0 + 2000 }), 1), 'inserted');
        const [r, g] = open('b', { createdAt: T0 + 10 });
        assert.equal(await store.accessRequests.insert(r, g, 1), 'limit');
        assert.equal(await store.accessRequests.get(r.id), undefined, 'nothing of a refused one is stored');
        assert.equal(await store.grants.get(g.id), undefined);
        assert.equal(await store.accessRequests.insert(r, g, 2), 'inserted', 'below a higher limit');
        assert.deepEqual(await openIds('alice', T0 + 10), ['gb', 'ga'], 'soonest expiry first');
        assert.equal(await store.accessRequests.insert(...open('c', { principal: `${ns}-bob` }), 1), 'inserted', 'another grantee is not counted');
        // Neither a grant of an access request, nor a revoked one, nor an expired one counts.
        await store.accessRequests.insert(request('d'));
        await store.accessRequests.decide(`${ns}-d`, { status: 'approved', at: T0, grant: grant('gd', 'd') });
        assert.equal(await store.grants.revoke(`${ns}-ga`, T0 + 20, `${ns}-carol`), true);
        assert.deepEqual(await openIds('alice', T0 + 20), ['gb']);
        assert.equal(await store.accessRequests.insert(...open('e', { createdAt: T0 + 20 }), 2), 'inserted');
        assert.equal(await store.accessRequests.insert(...open('f', { createdAt: T0 + 20 }), 2), 'limit');
        assert.equal(await store.accessRequests.insert(...open('f', { createdAt: T0 + 1000, expiresAt: T0 + 3000 }), 1), 'inserted', 'gb and ge expired at T0 + 1000');
        assert.deepEqual(await openIds('alice', T0 + 1000), ['gf']);
        assert.deepEqual(await openIds('bob', T0 + 1000), []);
      });

      void it('break-glass inserts of one grantee at once: only as many as maxOpen go in', async () => {
        for (const who of ['p1', 'p2', 'p3']) {
          const attempts = ['x', 'y', 'z'].map((n) => {
            const g = grant(`g${who}${n}`, `${who}${n}`, { breakglass: true, principal: `${ns}-${who}`, createdAt: T0 });
            return store.accessRequests.insert(request(`${who}${n}`, { kind: 'breakglass', status: 'approved', grantId: g.id, requester: g.principal }), g, 1);
          });
          assert.deepEqual((await Promise.all(attempts)).sort(), ['inserted', 'limit', 'limit'], who);
          assert.equal((await store.grants.openBreakGlass(`${ns}-${who}`, T0)).length, 1);
        }
      });

      void it('decide approves a pending request and inserts its grant atomically, once', async () => {
        const r = request('r1');
        await store.accessRequests.insert(r);
        const g = grant('g1', 'r1');
        assert.equal(await store.accessRequests.decide(r.id, { status: 'approved', at: T0 + 10, grant: g }), 'decided');
        assert.deepEqual(await store.accessRequests.get(r.id), { ...r, status: 'approved', decidedAt: T0 + 10, grantId: g.id });
        assert.deepEqual(await store.grants.get(g.id), g);
        assert.equal(await store.accessRequests.decide(r.id, { status: 'approved', at: T0 + 11, grant: grant('g2', 'r1') }), 'not_pending');
        assert.equal(await store.grants.get(`${ns}-g2`), undefined, 'a second approval creates no second grant');
        assert.equal(await store.accessRequests.decide(r.id, { status: 'denied', at: T0 + 12 }), 'not_pending');
        assert.equal((await store.accessRequests.get(r.id))?.status, 'approved');
      });

      void it('decide never approves an expired request, and denies only pending ones', async () => {
        const r = request('r1', { expiresAt: T0 + 100 });
        await store.accessRequests.insert(r);
        assert.equal(await store.accessRequests.decide(r.id, { status: 'approved', at: T0 + 100, grant: grant('g1', 'r1') }), 'not_pending');
        assert.equal(await store.grants.get(`${ns}-g1`), undefined);
        assert.equal(await store.accessRequests.decide(r.id, { status: 'denied', at: T0 + 50 }), 'decided');
        assert.deepEqual(await store.accessRequests.get(r.id), { ...r, status: 'denied', decidedAt: T0 + 50 });
        assert.equal(await store.accessRequests.decide(`${ns}-none`, { status: 'denied', at: T0 }), 'not_pending');
      });

      void it('decide never approves a request an approver denied, even before the denial marks it (a race)', async () => {
        const r = request('r1');
        await store.accessRequests.insert(r);
        assert.equal(await store.approvals.add(approval('r1', 'dana', { verdict: 'deny' })), 'inserted');
        assert.equal(await store.accessRequests.decide(r.id, { status: 'approved', at: T0 + 10, grant: grant('g1', 'r1') }), 'not_pending');
        assert.equal(await store.grants.get(`${ns}-g1`), undefined);
        assert.equal(await store.accessRequests.decide(r.id, { status: 'denied', at: T0 + 11 }), 'decided');
        // Another request's denial does not count here.
        await store.accessRequests.insert(request('r2'));
        assert.equal(await store.accessRequests.decide(`${ns}-r2`, { status: 'approved', at: T0 + 10, grant: grant('g2', 'r2') }), 'decided');
      });

      void it('list is newest first and filters by kind, status and requester', async () => {
        await store.accessRequests.insert(request('a', { createdAt: T0 + 1 }));
        await store.accessRequests.insert(request('b', { createdAt: T0 + 3, requester: `${ns}-bob` }));
        await store.accessRequests.insert(request('c', { createdAt: T0 + 2, kind: 'breakglass', status: 'approved' }));
        const ids = (rows: readonly AccessRequestRow[]) => mineOnly(rows).map((r) => r.id.slice(ns.length + 1));
        assert.deepEqual(ids(await store.accessRequests.list({ limit: 1000 })), ['b', 'c', 'a']);
        assert.deepEqual(ids(await store.accessRequests.list({ kind: 'breakglass', limit: 1000 })), ['c']);
        assert.deepEqual(ids(await store.accessRequests.list({ status: 'pending', limit: 1000 })), ['b', 'a']);
        assert.deepEqual(ids(await store.accessRequests.list({ requester: `${ns}-bob` })), ['b']);
        assert.equal((await store.accessRequests.list({ limit: 1 })).length, 1);
      });

      void it('grants: listActive skips expired and revoked ones; revoke is once; list filters by principal', async () => {
        for (const id of ['a', 'b', 'c']) await store.accessRequests.insert(request(id));
        await store.accessRequests.decide(`${ns}-a`, { status: 'approved', at: T0, grant: grant('ga', 'a', { expiresAt: T0 + 1000 }) });
        await store.accessRequests.decide(`${ns}-b`, { status: 'approved', at: T0, grant: grant('gb', 'b', { expiresAt: T0 + 5000, principal: `${ns}-bob` }) });
        await store.accessRequests.decide(`${ns}-c`, { status: 'approved', at: T0, grant: grant('gc', 'c', { expiresAt: T0 + 5000 }) });
        const activeIds = async (at: number) => mineOnly(await store.grants.listActive(at)).map((g) => g.id.slice(ns.length + 1)).sort();
        assert.deepEqual(await activeIds(T0 + 999), ['ga', 'gb', 'gc']);
        assert.deepEqual(await activeIds(T0 + 1000), ['gb', 'gc'], 'a grant is not active at its expiry time');
        assert.equal(await store.grants.revoke(`${ns}-gc`, T0 + 10, `${ns}-carol`), true);
        assert.equal(await store.grants.revoke(`${ns}-gc`, T0 + 20, `${ns}-dave`), false);
        assert.deepEqual(await store.grants.get(`${ns}-gc`), grant('gc', 'c', { expiresAt: T0 + 5000, revokedAt: T0 + 10, revokedBy: `${ns}-carol` }));
        assert.deepEqual(await activeIds(T0 + 11), ['ga', 'gb']);
        assert.equal(await store.grants.revoke(`${ns}-none`, T0, 'x'), false);
        assert.deepEqual((await store.grants.list({ principal: `${ns}-bob` })).map((g) => g.id), [`${ns}-gb`]);
      });
    });

    void describe('approvals', () => {
      void it('one verdict per approver and target, listed in the order given', async () => {
        assert.equal(await store.approvals.add(approval('t', 'bob', { at: T0 + 2, comment: 'ok — ñ' })), 'inserted');
        assert.equal(await store.approvals.add(approval('t', 'carol', { at: T0 + 1, verdict: 'deny' })), 'inserted');
        assert.equal(await store.approvals.add(approval('t', 'bob', { at: T0 + 3, verdict: 'deny' })), 'exists');
        assert.equal(await store.approvals.add(approval('other', 'bob')), 'inserted', 'the same approver on another target is another verdict');
        assert.deepEqual(await store.approvals.list(`${ns}-t`), [approval('t', 'carol', { at: T0 + 1, verdict: 'deny' }), approval('t', 'bob', { at: T0 + 2, comment: 'ok — ñ' })]);
        assert.deepEqual(await store.approvals.list(`${ns}-none`), []);
      });

      void it('listMany answers list for each target in one read; every target has an entry', async () => {
        await store.approvals.add(approval('m1', 'bob', { at: T0 + 2 }));
        await store.approvals.add(approval('m1', 'carol', { at: T0 + 1 }));
        await store.approvals.add(approval('m2', 'dana'));
        await store.approvals.add(approval('m3', 'erin'));
        const targets = [`${ns}-m1`, `${ns}-m2`, `${ns}-none`];
        const many = await store.approvals.listMany(targets);
        assert.deepEqual([...many.keys()], targets);
        for (const t of targets) assert.deepEqual(many.get(t), await store.approvals.list(t));
        assert.deepEqual(many.get(`${ns}-m1`)?.map((a) => a.approver), [`${ns}-carol`, `${ns}-bob`], 'each in the order given');
        assert.equal(many.has(`${ns}-m3`), false, 'only the targets asked for');
        assert.deepEqual([...(await store.approvals.listMany([])).keys()], []);
      });
    });

    void describe('policy versions', () => {
      void it('append takes only the next version number; latest, get and list return them', async () => {
        const before = (await store.policyVersions.latest())?.version ?? 0;
        const v = { version: before + 1, text: `// ${ns}\n@id("a") permit (principal, action, resource);`, digest: 'sha256:1', proposalId: `${ns}-p`, approvers: '["a","b"]', activatedAt: T0 };
        assert.equal(await store.policyVersions.append(v), 'inserted');
        assert.equal(await store.policyVersions.append({ ...v, text: 'other' }), 'stale', 'the same number twice');
        assert.equal(await store.policyVersions.append({ ...v, version: before + 3 }), 'stale', 'a gap');
        assert.deepEqual(await store.policyVersions.latest(), v);
        assert.deepEqual(await store.policyVersions.get(v.version), v);
        assert.equal(await store.policyVersions.get(before + 2), undefined);
        const all = await store.policyVersions.list();
        assert.deepEqual(all.at(-1), v);
        assert.deepEqual(all.map((x) => x.version), Array.from({ length: before + 1 }, (_, i) => i + 1), 'oldest first, no gaps');
      });
    });

    void describe('change proposals', () => {
      void it('insert and get; a second insert of the id answers exists', async () => {
        const p = proposal('p1');
        assert.equal(await store.proposals.insert(p), 'inserted');
        assert.deepEqual(await store.proposals.get(p.id), p);
        assert.equal(await store.proposals.insert({ ...p, kind: 'token.revoke' }), 'exists');
        assert.deepEqual(await store.proposals.get(p.id), p);
      });

      void it('rejecting marks a pending proposal once', async () => {
        const p = proposal('p1');
        await store.proposals.insert(p);
        assert.equal(await store.proposals.decide(p.id, { status: 'rejected', at: T0 + 1, outcome: 'no' }), 'decided');
        assert.deepEqual(await store.proposals.get(p.id), { ...p, status: 'rejected', decidedAt: T0 + 1, outcome: 'no' });
        assert.equal(await store.proposals.decide(p.id, { status: 'failed', at: T0 + 2, outcome: 'x' }), 'not_pending');
      });

      void it('a proposal an approver rejected is never applied, even before the rejection marks it (a race)', async () => {
        const t = token('rt', 'target');
        await store.tokens.create(principal('target'), t);
        await store.proposals.insert(proposal('p1', { kind: 'token.revoke' }));
        assert.equal(await store.approvals.add(approval('p1', 'dana', { verdict: 'deny' })), 'inserted');
        assert.equal(await store.proposals.decide(`${ns}-p1`, { status: 'applied', at: T0 + 5, outcome: 'revoked', effect: { kind: 'token.revoke', tokenId: t.id } }), 'not_pending');
        assert.equal((await store.tokens.get(t.id))?.token.revokedAt, null);
        assert.equal(await store.proposals.decide(`${ns}-p1`, { status: 'rejected', at: T0 + 6, outcome: 'no' }), 'decided');
      });

      void it('applying a policy proposal appends the version in the same transaction; a stale base changes nothing', async () => {
        const before = (await store.policyVersions.latest())?.version ?? 0;
        const version = { version: before + 1, text: `// ${ns}`, digest: 'sha256:2', proposalId: `${ns}-p1`, approvers: '[]', activatedAt: T0 + 5 };
        await store.proposals.insert(proposal('p1'));
        await store.proposals.insert(proposal('p2'));
        assert.equal(await store.proposals.decide(`${ns}-p1`, { status: 'applied', at: T0 + 5, outcome: 'v', effect: { kind: 'policy', version } }), 'decided');
        assert.deepEqual(await store.policyVersions.latest(), version);
        assert.equal((await store.proposals.get(`${ns}-p1`))?.status, 'applied');
        // p2 was made against the same base: its version number is taken now.
        assert.equal(await store.proposals.decide(`${ns}-p2`, { status: 'applied', at: T0 + 6, outcome: 'v', effect: { kind: 'policy', version: { ...version, proposalId: `${ns}-p2` } } }), 'stale');
        assert.equal((await store.proposals.get(`${ns}-p2`))?.status, 'pending', 'nothing of the refused apply was kept');
        assert.deepEqual(await store.policyVersions.latest(), version);
      });

      void it('applying a token proposal creates the principal and token atomically; a principal mismatch changes nothing', async () => {
        await store.proposals.insert(proposal('p1', { kind: 'token.issue' }));
        const p = principal('newbie');
        const t = token('nt', 'newbie');
        assert.equal(await store.proposals.decide(`${ns}-p1`, { status: 'applied', at: T0 + 5, outcome: 'issued', effect: { kind: 'token.issue', principal: p, token: t } }), 'decided');
        assert.deepEqual(plainToken(await store.tokens.findByHash(t.hash)), { token: t, principal: p });
        await store.proposals.insert(proposal('p2', { kind: 'token.issue' }));
        const t2 = token('nt2', 'newbie');
        assert.equal(await store.proposals.decide(`${ns}-p2`, { status: 'applied', at: T0 + 6, outcome: 'issued', effect: { kind: 'token.issue', principal: { ...p, role: 'officer' }, token: t2 } }), 'principal_mismatch');
        assert.equal(await store.tokens.findByHash(t2.hash), undefined);
        assert.equal((await store.proposals.get(`${ns}-p2`))?.status, 'pending');
      });

      void it('a bootstrap token applies only while no approver of its org holds or held a token; of two at once, one', async () => {
        const org = `${ns}-prov`;
        const bootstrap = { org, roles: ['monitor'], principals: [`${ns}-named`], since: 0, at: T0 + 5 };
        const issue = (p: string, who: PrincipalRow, t: TokenRow) =>
          store.proposals.decide(`${ns}-${p}`, { status: 'applied', at: T0 + 5, outcome: 'issued', effect: { kind: 'token.issue', principal: who, token: t, bootstrap } });
        // A principal of the org that is no approver (another role) does not bootstrap it.
        await store.tokens.create(principal('svc', { org, role: 'service' }), token('svc-t', 'svc'));
        for (const p of ['b1', 'b2', 'b3', 'b4', 'b5', 'b6']) await store.proposals.insert(proposal(p, { kind: 'token.issue' }));
        // Two connections ready (a pooled adapter), so that the two transactions below overlap.
        await Promise.all([store.proposals.get(`${ns}-b1`), store.proposals.get(`${ns}-b2`)]);
        const [one, two] = await Promise.all([issue('b1', principal('m1', { org, role: 'monitor' }), token('m1-t', 'm1')), issue('b2', principal('m2', { org, role: 'monitor' }), token('m2-t', 'm2'))]);
        assert.deepEqual([one, two].sort(), ['decided', 'org_bootstrapped']);
        const loser = one === 'decided' ? 'b2' : 'b1';
        assert.equal((await store.proposals.get(`${ns}-${loser}`))?.status, 'pending', 'nothing of the refused apply was kept');
        assert.equal(await store.tokens.get(`${ns}-${loser === 'b1' ? 'm1' : 'm2'}-t`), undefined);
        // A revoked approver token still counts, and so does a principal the groups name, whatever its role.
        await store.tokens.revoke(`${ns}-${loser === 'b1' ? 'm2' : 'm1'}-t`, T0 + 6);
        assert.equal(await issue('b3', principal('m3', { org, role: 'monitor' }), token('m3-t', 'm3')), 'org_bootstrapped');
        // A rebootstrap: tokens created before `since` no longer count.
        const again = { status: 'applied', at: T0 + 200, outcome: 'issued' } as const;
        const m5 = { principal: principal('m5', { org, role: 'monitor' }), token: token('m5-t', 'm5', { createdAt: T0 + 200 }) };
        assert.equal(await store.proposals.decide(`${ns}-b5`, { ...again, effect: { kind: 'token.issue', ...m5, bootstrap: { ...bootstrap, since: T0 + 100, at: T0 + 200 } } }), 'decided');
        assert.equal((await store.tokens.get(`${ns}-m5-t`))?.principal.org, org);
        // Unless an approver still holds one: an old token neither revoked nor expired counts, however old.
        const third = `${ns}-prov3`;
        await store.tokens.create(principal('old-gone', { org: third, role: 'monitor' }), token('old-gone-t', 'old-gone', { expiresAt: T0 + 50 }));
        await store.tokens.create(principal('old-live', { org: third, role: 'monitor' }), token('old-live-t', 'old-live'));
        const m6 = { principal: principal('m6', { org: third, role: 'monitor' }), token: token('m6-t', 'm6', { createdAt: T0 + 200 }) };
        const b6 = { ...again, effect: { kind: 'token.issue', ...m6, bootstrap: { ...bootstrap, org: third, since: T0 + 100, at: T0 + 200 } } } as const;
        assert.equal(await store.proposals.decide(`${ns}-b6`, b6), 'org_bootstrapped');
        await store.tokens.revoke(`${ns}-old-live-t`, T0 + 150);
        assert.equal(await store.proposals.decide(`${ns}-b6`, b6), 'decided');
        const other = `${ns}-prov2`;
        await store.tokens.create(principal('named', { org: other, role: 'auditor' }), token('named-t', 'named'));
        assert.equal(
          await store.proposals.decide(`${ns}-b4`, { status: 'applied', at: T0 + 7, outcome: 'issued', effect: { kind: 'token.issue', principal: principal('m4', { org: other, role: 'monitor' }), token: token('m4-t', 'm4'), bootstrap: { ...bootstrap, org: other } } }),
          'org_bootstrapped',
        );
      });

      void it('applying a revocation revokes the token; an already revoked one changes nothing', async () => {
        const t = token('rt', 'victim');
        await store.tokens.create(principal('victim'), t);
        await store.proposals.insert(proposal('p1', { kind: 'token.revoke' }));
        await store.proposals.insert(proposal('p2', { kind: 'token.revoke' }));
        assert.equal(await store.proposals.decide(`${ns}-p1`, { status: 'applied', at: T0 + 7, outcome: 'revoked', effect: { kind: 'token.revoke', tokenId: t.id } }), 'decided');
        assert.equal((await store.tokens.get(t.id))?.token.revokedAt, T0 + 7);
        assert.equal(await store.proposals.decide(`${ns}-p2`, { status: 'applied', at: T0 + 8, outcome: 'revoked', effect: { kind: 'token.revoke', tokenId: t.id } }), 'token_not_found');
        assert.equal((await store.proposals.get(`${ns}-p2`))?.status, 'pending');
      });

      void it('applying a revocation of a token rotated since revokes the token it was rotated into', async () => {
        const t = token('old', 'wendy');
        await store.tokens.create(principal('wendy'), t);
        const next = token('new', 'wendy', { lineage: t.id });
        assert.equal(await store.tokens.rotate(t.id, next, T0 + 1), 'rotated');
        await store.proposals.insert(proposal('p1', { kind: 'token.revoke' }));
        assert.equal(await store.proposals.decide(`${ns}-p1`, { status: 'applied', at: T0 + 9, outcome: 'revoked', effect: { kind: 'token.revoke', tokenId: t.id } }), 'decided');
        assert.equal((await store.tokens.get(next.id))?.token.revokedAt, T0 + 9);
        assert.equal((await store.tokens.get(t.id))?.token.revokedAt, T0 + 1, 'the rotation\'s revocation time is kept');
      });

      void it('an expired proposal is never applied; list is newest first and filters by kind and status', async () => {
        await store.proposals.insert(proposal('old', { expiresAt: T0 + 10, createdAt: T0 + 1 }));
        const before = (await store.policyVersions.latest())?.version ?? 0;
        const version = { version: before + 1, text: 'x', digest: 'd', proposalId: null, approvers: '[]', activatedAt: T0 };
        assert.equal(await store.proposals.decide(`${ns}-old`, { status: 'applied', at: T0 + 10, outcome: 'v', effect: { kind: 'policy', version } }), 'not_pending');
        assert.equal((await store.policyVersions.latest())?.version ?? 0, before);
        await store.proposals.insert(proposal('tok', { kind: 'token.issue', createdAt: T0 + 2 }));
        const ids = (rows: readonly ProposalRow[]) => mineOnly(rows).map((r) => r.id.slice(ns.length + 1));
        assert.deepEqual(ids(await store.proposals.list({ limit: 1000 })), ['tok', 'old']);
        assert.deepEqual(ids(await store.proposals.list({ kind: 'token.issue', limit: 1000 })), ['tok']);
        assert.deepEqual(ids(await store.proposals.list({ status: 'applied', limit: 1000 })), []);
      });

      void it('tokens.get finds a token by id', async () => {
        const t = token('byid', 'ivy');
        await store.tokens.create(principal('ivy'), t);
        assert.deepEqual(plainToken(await store.tokens.get(t.id)), { token: t, principal: principal('ivy') });
        assert.equal(await store.tokens.get(`${ns}-none`), undefined);
      });
    });

    void describe('importSubject and purgeSubject', () => {
      void it('importSubject stores the subject and all their records', async () => {
        const s = subject('m');
        const rows = [record('users', 'a', 'm'), record('messages', 'b', 'm', { version: 4 }), record('videos', 'c', 'm', { sealed: null })];
        await store.importSubject(s, rows);
        assert.deepEqual(plainSubject(await store.subjects.get(s.id)), plainSubject(s));
        assert.deepEqual(
          (await store.records.listBySubject(s.id)).map(plainRecord),
          [rows[1], rows[0], rows[2]].map(plainRecord),
          'ordered by collection: messages, users, videos',
        );
      });

      void it('importSubject replaces what the store held for that subject (re-homing back over a stale copy)', async () => {
        const s = subject('m');
        const stale = record('users', 'a', 'm');
        const gone = record('videos', 'z', 'm');
        await store.subjects.insert(s);
        await store.records.insert(stale);
        await store.records.insert(gone);
        assert.equal(await store.subjects.setMovedTo(s.id, { site: 'elsewhere', owner: 'h:1:a', startedAt: T0 }, null), true);
        const again = subject('m', { country: 'DE', jurisdiction: 'eu' });
        const incoming = [{ ...stale, version: 5, publicJson: '{"newer":true}' }, record('messages', 'b', 'm')];
        await store.importSubject(again, incoming);
        assert.deepEqual(plainSubject(await store.subjects.get(s.id)), plainSubject(again));
        assert.deepEqual(plainRecord(await store.records.get('users', stale.id)), plainRecord(incoming[0]));
        assert.deepEqual(plainRecord(await store.records.get('messages', `${ns}-b`)), plainRecord(incoming[1]));
        assert.equal(await store.records.get('videos', gone.id), undefined, 'a record the subject no longer has is gone');
      });

      void it('importSubject never replaces an erased subject with a live one (subject_erased, nothing changed); an erased row replaces any copy', async () => {
        const s = subject('m');
        const kept = record('users', 'a', 'm');
        await store.importSubject(s, [kept]);
        assert.equal(await store.subjects.erase(s.id, T0 + 3), 1);
        const erased = await store.subjects.get(s.id);
        await assert.rejects(store.importSubject(s, [record('users', 'a', 'm', { version: 9 }), record('messages', 'b', 'm')]), (err: Error & { code?: string }) => err.code === 'subject_erased');
        assert.deepEqual(plainSubject(await store.subjects.get(s.id)), plainSubject(erased));
        assert.equal((await store.records.get('users', kept.id))?.version, 1);
        assert.equal(await store.records.get('messages', `${ns}-b`), undefined);
        // An erased row, on a live copy or none: what an erasure leaves where a move was going.
        const live = subject('l');
        await store.importSubject(live, [record('users', 'l1', 'l')]);
        const fence = { ...live, wrappedKey: null, erasedAt: T0 + 4 };
        await store.importSubject(fence, []);
        assert.deepEqual(plainSubject(await store.subjects.get(live.id)), plainSubject(fence));
        assert.deepEqual(await store.records.listBySubject(live.id), []);
        const none = subject('n', { wrappedKey: null, erasedAt: T0 + 4 });
        await store.importSubject(none, []);
        assert.deepEqual(plainSubject(await store.subjects.get(none.id)), plainSubject(none));
        await assert.rejects(store.importSubject(subject('n'), []), (err: Error & { code?: string }) => err.code === 'subject_erased');
      });

      void it('importSubject refuses a record id held by another subject, changing nothing', async () => {
        const other = subject('o2');
        const taken = record('users', 'taken', 'o2');
        await store.importSubject(other, [taken]);
        const s = subject('m2');
        await assert.rejects(store.importSubject(s, [record('users', 'taken', 'm2')]));
        assert.equal(await store.subjects.get(s.id), undefined);
        assert.deepEqual(plainRecord(await store.records.get('users', taken.id)), plainRecord(taken));
      });

      void it('setResidence changes country and jurisdiction only', async () => {
        const s = subject('r');
        await store.subjects.insert(s);
        assert.equal(await store.subjects.setResidence(s.id, 'PR', 'us'), true);
        assert.deepEqual(plainSubject(await store.subjects.get(s.id)), plainSubject({ ...s, country: 'PR', jurisdiction: 'us' }));
        assert.equal(await store.subjects.setResidence(`${ns}-nobody`, 'PR', 'us'), false);
      });

      void it('importSubject is atomic: if one record is refused, neither the subject nor any record is stored', async () => {
        const s = subject('m');
        const good = record('users', 'a', 'm');
        const bad = { ...record('users', 'b', 'm'), publicJson: null as unknown as string };
        await assert.rejects(store.importSubject(s, [good, bad]));
        assert.equal(await store.subjects.get(s.id), undefined);
        assert.equal(await store.records.get('users', good.id), undefined);
      });

      void it('purgeSubject deletes the subject and all their records, returns the record count, touches no one else', async () => {
        const s = subject('p');
        const o = subject('o');
        await store.importSubject(s, [record('users', 'a', 'p'), record('messages', 'b', 'p')]);
        const kept = record('users', 'c', 'o');
        await store.importSubject(o, [kept]);
        assert.equal(await store.purgeSubject(s.id), 2);
        assert.equal(await store.subjects.get(s.id), undefined);
        assert.deepEqual(await store.records.listBySubject(s.id), []);
        assert.equal(await store.records.get('users', `${ns}-a`), undefined);
        assert.deepEqual(plainSubject(await store.subjects.get(o.id)), plainSubject(o));
        assert.deepEqual(plainRecord(await store.records.get('users', kept.id)), plainRecord(kept));
        assert.equal(await store.purgeSubject(s.id), 0);
        assert.equal(await store.purgeSubject(`${ns}-nobody`), 0);
      });

      void it('scrub keeps every live row', async () => {
        const s = subject('a');
        const r = record('users', 'a', 'a');
        await store.importSubject(s, [r]);
        await store.records.insert(record('users', 'gone', 'a'));
        await store.records.delete('users', `${ns}-gone`);
        await store.scrub();
        assert.deepEqual(plainSubject(await store.subjects.get(s.id)), plainSubject(s));
        assert.deepEqual(plainRecord(await store.records.get('users', r.id)), plainRecord(r));
      });
    });
  });
}
