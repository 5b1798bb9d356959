// The vault through a real enclave (SQLite files, unsealed with the development shares): residency
// routing checked in the sites' own stores, envelope encryption bound to its row, versions, re-homing,
// erasure, redaction for the parent company, and a sealed enclave.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { Decision } from '../../src/core/decision.ts';
import { EnclaveError, type ErrorCode } from '../../src/core/errors.ts';
import type { EventLog, LogEventInput } from '../../src/core/event-log.ts';
import type { Principal } from '../../src/core/principal.ts';
import type { MoveMark, RecordRevision, RecordRow, Store } from '../../src/core/store.ts';
import { loadConfig } from '../../src/services/config-loader.ts';
import { openEnclave, type Enclave } from '../../src/services/enclave.ts';
import { CONFIG_FILE, initEnclave } from '../../src/services/init-service.ts';
import { readDevShares } from '../../src/services/dev-shares.ts';
import { starterConfig } from '../../src/services/starter-config.ts';
import { Vault } from '../../src/services/vault.ts';
import { makeFixture, tempDir, type Fixture } from '../helpers/fixture.ts';

const uid = (p: string) => `${p}-${randomBytes(5).toString('hex')}`;

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<EnclaveError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof EnclaveError, `expected EnclaveError(${code}), got ${caught === undefined ? 'success' : inspect(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

function site(fx: Fixture, id: string): Store {
  const s = fx.enclave.sites.get(id);
  assert.ok(s, `site ${id} is open`);
  return s;
}

/** Which home sites hold the subject row, and which hold the record. */
async function subjectSites(fx: Fixture, id: string): Promise<string[]> {
  const out: string[] = [];
  for (const [name, store] of fx.enclave.sites) if (await store.subjects.get(id)) out.push(name);
  return out;
}
async function recordSites(fx: Fixture, collection: string, id: string): Promise<string[]> {
  const out: string[] = [];
  for (const [name, store] of fx.enclave.sites) if (await store.records.get(collection, id)) out.push(name);
  return out;
}

/** The revision a view shows: its version, and its incarnation's creation time (created_at, with milliseconds). */
const revisionOf = (view: { version: number; created_at: string }): RecordRevision => ({ version: view.version, createdAt: Date.parse(view.created_at) });
const userData = (subject: string, email = `${subject}@x.test`) => ({ user_id: subject, username: `name-${subject}`, email, phone: '+1 555 0100' });

/** The mark of a re-home whose process was killed: its holder is gone (another host's, its lease long over). */
const killedMark = (site: string): MoveMark => ({ site, owner: 'killed-host:1:0000', startedAt: 0 });

/** A second instance's vault on the same stores: a lock of its own, and its own name on the marks it sets. */
function otherInstance(fx: Fixture): Vault {
  const { config, router, keyring, decisions, log, control } = fx.enclave;
  return new Vault({ config, router, claims: control.subjectClaims, recordClaims: control.recordClaims, keyring, decisions, log });
}

/**
 * Holds the next call of `target[name]` until released: `reached` resolves when that call arrives. The
 * calls after it pass through; `restore` puts the method back.
 */
function holdNext<T extends object, K extends keyof T>(target: T, name: K): { reached: Promise<void>; release: () => void; restore: () => void } {
  const original = target[name] as (...args: unknown[]) => Promise<unknown>;
  let arrived = () => {};
  let release = () => {};
  const reached = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let held = false;
  (target as Record<K, unknown>)[name] = async (...args: unknown[]) => {
    if (!held) {
      held = true;
      arrived();
      await released;
    }
    return original.apply(target, args);
  };
  return { reached, release, restore: () => ((target as Record<K, unknown>)[name] = original) };
}

/** What a re-home of a US subject to eu-central leaves when it is killed after its copy, before the purge. */
async function killedAfterCopy(fx: Fixture, s: string): Promise<void> {
  const src = site(fx, 'trusted-us');
  const row = await src.subjects.get(s);
  assert.ok(row?.wrappedKey);
  await src.subjects.setMovedTo(s, killedMark('eu-central'), null);
  const wrappedKey = fx.enclave.keyring.rewrap('trusted-us', 'eu-central', s, row.wrappedKey);
  await site(fx, 'eu-central').importSubject({ ...row, country: 'DE', jurisdiction: 'eu', wrappedKey, movedTo: null }, await src.records.listBySubject(s));
}

/** A US subject with a record, whose re-home to eu-central was killed after its copy. */
async function halfMoved(fx: Fixture, prefix: string): Promise<string> {
  const s = uid(prefix);
  await fx.enclave.vault.registerSubject(fx.principals.service, { id: s, country: 'US' });
  await fx.enclave.vault.createRecord(fx.principals.service, 'users', { id: `${s}-u`, data: userData(s) });
  await killedAfterCopy(fx, s);
  return s;
}

async function assertNoLiveKey(fx: Fixture, s: string): Promise<void> {
  for (const [name, store] of fx.enclave.sites) assert.equal((await store.subjects.get(s))?.wrappedKey ?? null, null, `no live data key at ${name}`);
}

void describe('vault', () => {
  let fx: Fixture;
  let officer: Principal;
  let service: Principal;
  let parent: Principal;
  before(async () => {
    fx = await makeFixture();
    officer = fx.principals.officer;
    service = fx.principals.service;
    parent = fx.principals.parent;
  });
  after(async () => {
    await fx.close();
  });

  void describe('residency (invariant 1)', () => {
    void it('registers a US subject only at trusted-us and a DE subject only at eu-central', async () => {
      const us = uid('us');
      const de = uid('de');
      const a = await fx.enclave.vault.registerSubject(service, { id: us, country: 'US' });
      const b = await fx.enclave.vault.registerSubject(service, { id: de, country: 'de' });
      assert.deepEqual([a.site, a.jurisdiction, a.country], ['trusted-us', 'us', 'US']);
      assert.deepEqual([b.site, b.jurisdiction, b.country], ['eu-central', 'eu', 'DE']);
      assert.deepEqual(await subjectSites(fx, us), ['trusted-us']);
      assert.deepEqual(await subjectSites(fx, de), ['eu-central']);
      const row = await site(fx, 'trusted-us').subjects.get(us);
      assert.ok(row?.wrappedKey && row.wrappedKey.length > 32, 'a wrapped data key is stored');
      assert.equal(row.jurisdiction, 'us');
    });

    void it('refuses a country without a jurisdiction and writes nothing anywhere', async () => {
      const counts = async () => Promise.all([...fx.enclave.sites.values(), fx.enclave.control].map((s) => s.subjects.count()));
      const before = await counts();
      const id = uid('br');
      const err = await rejectsWith(fx.enclave.vault.registerSubject(service, { id, country: 'BR' }), 'no_jurisdiction', /BR/);
      assert.equal(err.details?.['country'], 'BR');
      assert.deepEqual(await counts(), before);
      assert.deepEqual(await subjectSites(fx, id), []);
      await rejectsWith(fx.enclave.vault.getSubject(service, id), 'subject_not_found');
    });

    void it('the legacy sites of the parent are never opened or written', () => {
      assert.deepEqual([...fx.enclave.sites.keys()].sort(), ['eu-central', 'trusted-us']);
      assert.equal(existsSync(join(fx.dataDir, 'legacy')), false);
    });

    void it('writes each record only to its subject\'s home site', async () => {
      const us = uid('us');
      const de = uid('de');
      await fx.enclave.vault.registerSubject(service, { id: us, country: 'PR' });
      await fx.enclave.vault.registerSubject(service, { id: de, country: 'FR' });
      const records: [string, string, Record<string, unknown>, string][] = [
        ['users', uid('u'), userData(us), 'trusted-us'],
        ['messages', uid('m'), { sender_id: us, recipient_id: de, body: 'hi', sent_at: '2024-01-01T00:00:00Z' }, 'trusted-us'],
        ['users', uid('u'), userData(de), 'eu-central'],
        ['devices', uid('d'), { user_id: de, model: 'phone', os: 'os', ip_address: '192.0.2.1' }, 'eu-central'],
        ['videos', uid('v'), { owner_id: de, title: 't', views: 1, published_at: '2024-01-01T00:00:00Z' }, 'eu-central'],
      ];
      for (const [collection, id, data, home] of records) {
        await fx.enclave.vault.createRecord(service, collection, { id, data });
        assert.deepEqual(await recordSites(fx, collection, id), [home], `${collection}/${id}`);
      }
    });

    void it('refuses a record for an unregistered subject and stores nothing', async () => {
      const id = uid('u');
      await rejectsWith(fx.enclave.vault.createRecord(service, 'users', { id, data: userData(uid('ghost')) }), 'subject_not_found');
      assert.deepEqual(await recordSites(fx, 'users', id), []);
    });

    void it('refuses a duplicate subject', async () => {
      const id = uid('dup');
      await fx.enclave.vault.registerSubject(service, { id, country: 'US' });
      await rejectsWith(fx.enclave.vault.registerSubject(service, { id, country: 'DE' }), 'subject_exists');
      assert.deepEqual(await subjectSites(fx, id), ['trusted-us']);
    });
  });

  void describe('records', () => {
    void it('round-trips a record; protected fields are sealed, public ones stored in the clear', async () => {
      const s = uid('s');
      const id = uid('u');
      await fx.enclave.vault.registerSubject(service, { id: s, country: 'US' });
      const created = await fx.enclave.vault.createRecord(service, 'users', { id, data: userData(s, 'private@x.test') });
      assert.equal(created.version, 1);
      const got = await fx.enclave.vault.getRecord(service, 'users', id);
      assert.deepEqual(got.data, { user_id: s, username: `name-${s}`, email: 'private@x.test', phone: '+1 555 0100' });
      assert.deepEqual(got.withheld, []);
      const row = await site(fx, 'trusted-us').records.get('users', id);
      assert.ok(row?.sealed);
      assert.deepEqual(JSON.parse(row.publicJson), { user_id: s, username: `name-${s}` });
      assert.equal(Buffer.from(row.sealed).includes(Buffer.from('private@x.test')), false);
    });

    void it('a ciphertext copied onto another row fails with integrity_error instead of returning data', async () => {
      const s = uid('s');
      await fx.enclave.vault.registerSubject(service, { id: s, country: 'US' });
      const a = uid('a');
      const b = uid('b');
      await fx.enclave.vault.createRecord(service, 'users', { id: a, data: userData(s, 'alice-secret@x.test') });
      await fx.enclave.vault.createRecord(service, 'users', { id: b, data: userData(s, 'bob@x.test') });
      const store = site(fx, 'trusted-us');
      const rowA = await store.records.get('users', a);
      const rowB = await store.records.get('users', b);
      assert.ok(rowA?.sealed && rowB);
      // Same collection, subject, key and version: only the record id differs.
      assert.equal(await store.records.delete('users', b), 'deleted');
      assert.equal(await store.records.insert({ ...rowB, sealed: rowA.sealed }), 'inserted');
      const err = await rejectsWith(fx.enclave.vault.getRecord(service, 'users', b), 'integrity_error');
      assert.ok(!err.message.includes('alice-secret'));
      // Through update too (the version moves with it).
      const c = uid('c');
      await fx.enclave.vault.createRecord(service, 'users', { id: c, data: userData(s) });
      const rowC = await store.records.get('users', c);
      assert.ok(rowC);
      assert.equal(await store.records.update({ ...rowC, sealed: rowA.sealed, version: 2 }, { version: 1, createdAt: rowC.createdAt }), 'updated');
      await rejectsWith(fx.enclave.vault.getRecord(service, 'users', c), 'integrity_error');
      // The record it was copied from is unaffected.
      assert.equal((await fx.enclave.vault.getRecord(service, 'users', a)).data['email'], 'alice-secret@x.test');
    });

    void it('a ciphertext of another subject, or an older version replayed, fails with integrity_error', async () => {
      const s1 = uid('s');
      const s2 = uid('s');
      await fx.enclave.vault.registerSubject(service, { id: s1, country: 'US' });
      await fx.enclave.vault.registerSubject(service, { id: s2, country: 'US' });
      const r1 = uid('r');
      const r2 = uid('r');
      await fx.enclave.vault.createRecord(service, 'users', { id: r1, data: userData(s1, 'v1@x.test') });
      await fx.enclave.vault.createRecord(service, 'users', { id: r2, data: userData(s2) });
      const store = site(fx, 'trusted-us');
      const v1 = await store.records.get('users', r1);
      assert.ok(v1?.sealed);
      await fx.enclave.vault.replaceRecord(service, 'users', r1, { data: userData(s1, 'v2@x.test') });
      const v2 = await store.records.get('users', r1);
      assert.ok(v2);
      // Replay: the v1 ciphertext under the v2 row.
      assert.equal(await store.records.update({ ...v2, sealed: v1.sealed }, { version: 2, createdAt: v2.createdAt }), 'updated');
      await rejectsWith(fx.enclave.vault.getRecord(service, 'users', r1), 'integrity_error');
      // Another subject's record carrying s1's ciphertext.
      const other = await store.records.get('users', r2);
      assert.ok(other);
      assert.equal(await store.records.update({ ...other, sealed: v1.sealed }, { version: 1, createdAt: other.createdAt }), 'updated');
      await rejectsWith(fx.enclave.vault.getRecord(service, 'users', r2), 'integrity_error');
    });

    void it('bumps the version on replace and refuses a stale If-Match', async () => {
      const s = uid('s');
      const id = uid('u');
      await fx.enclave.vault.registerSubject(service, { id: s, country: 'DE' });
      const v1 = await fx.enclave.vault.createRecord(service, 'users', { id, data: userData(s, 'one@x.test') });
      const v2 = await fx.enclave.vault.replaceRecord(service, 'users', id, { data: userData(s, 'two@x.test'), ifMatch: revisionOf(v1) });
      assert.equal(v2.version, 2);
      const v3 = await fx.enclave.vault.replaceRecord(service, 'users', id, { data: userData(s, 'three@x.test') });
      assert.equal(v3.version, 3);
      await rejectsWith(fx.enclave.vault.replaceRecord(service, 'users', id, { data: userData(s, 'lost@x.test'), ifMatch: revisionOf(v2) }), 'version_conflict', /version 3/);
      const now = await fx.enclave.vault.getRecord(service, 'users', id);
      assert.equal(now.version, 3);
      assert.equal(now.data['email'], 'three@x.test');
      await rejectsWith(fx.enclave.vault.deleteRecord(service, 'users', id, revisionOf(v2)), 'version_conflict');
      assert.equal((await fx.enclave.vault.getRecord(service, 'users', id)).version, 3);
      await fx.enclave.vault.deleteRecord(service, 'users', id, revisionOf(v3));
      await rejectsWith(fx.enclave.vault.getRecord(service, 'users', id), 'record_not_found');
      await rejectsWith(fx.enclave.vault.deleteRecord(service, 'users', id), 'record_not_found');
    });

    void it('a conditional replace or delete never reaches a record deleted and created again under its id, even between its check and its write', async () => {
      const { vault } = fx.enclave;
      const s = uid('s');
      const id = uid('u');
      await vault.registerSubject(service, { id: s, country: 'US' });
      /** Deletes the record and creates it again in a later millisecond (another incarnation), by the same principal. */
      const recreate = async (email: string) => {
        await vault.deleteRecord(service, 'users', id);
        for (const start = Date.now(); Date.now() === start; ) await new Promise((resolve) => setTimeout(resolve, 1));
        return vault.createRecord(service, 'users', { id, data: userData(s, email) });
      };
      const first = await vault.createRecord(service, 'users', { id, data: userData(s, 'first@x.test') });
      const second = await recreate('second@x.test');
      assert.equal(second.version, first.version);
      await rejectsWith(vault.replaceRecord(service, 'users', id, { data: userData(s, 'lost@x.test'), ifMatch: revisionOf(first) }), 'version_conflict', /created again/);
      await rejectsWith(vault.deleteRecord(service, 'users', id, revisionOf(first)), 'version_conflict', /created again/);
      assert.equal((await vault.getRecord(service, 'users', id)).data['email'], 'second@x.test');

      // Deleted and created again after the vault compared, before the store wrote: the store's condition refuses it.
      const records = site(fx, 'trusted-us').records;
      /** Runs `write` with the store's next `name` call held until the record was created again with `email`. */
      const refusedAfterRecreate = async (name: 'update' | 'delete', write: () => Promise<unknown>, email: string) => {
        const held = holdNext(records, name);
        try {
          const writing = write();
          writing.catch(() => undefined);
          await held.reached;
          await recreate(email);
          held.release();
          await rejectsWith(writing, 'version_conflict');
        } finally {
          held.restore();
        }
      };
      await refusedAfterRecreate('update', () => vault.replaceRecord(service, 'users', id, { data: userData(s, 'lost@x.test'), ifMatch: revisionOf(second) }), 'third@x.test');
      const third = await vault.getRecord(service, 'users', id);
      assert.deepEqual([third.version, third.data['email']], [1, 'third@x.test']);
      await refusedAfterRecreate('delete', () => vault.deleteRecord(service, 'users', id, revisionOf(third)), 'fourth@x.test');
      assert.equal((await vault.getRecord(service, 'users', id)).data['email'], 'fourth@x.test');
    });

    void it('a delete without If-Match never removes a record deleted and created again for another subject after its decision: it is decided (and logged) again on that one', async () => {
      const { config, router, keyring, control, decisions, log } = fx.enclave;
      const s1 = uid('s');
      const s2 = uid('s');
      const id = uid('u');
      await fx.enclave.vault.registerSubject(service, { id: s1, country: 'US' });
      await fx.enclave.vault.registerSubject(service, { id: s2, country: 'US' });
      await fx.enclave.vault.createRecord(service, 'users', { id, data: userData(s1) });
      // This principal may delete s1's records, never s2's.
      const vault = new Vault({
        config,
        router,
        claims: control.subjectClaims,
        recordClaims: control.recordClaims,
        keyring,
        log,
        decisions: { decide: async (r) => (r.action === 'record.delete' && r.subject === s2 ? { allow: false, release: 'public', policies: ['no-s2'], policyVersion: 1, reason: 'not s2' } : decisions.decide(r)) },
      });
      const deleting = holdNext(site(fx, 'trusted-us').records, 'delete');
      try {
        const deleted = vault.deleteRecord(service, 'users', id);
        deleted.catch(() => undefined);
        await deleting.reached;
        // Decided on s1's record; meanwhile it is deleted and the id created again for s2 (a later millisecond: another incarnation).
        await fx.enclave.vault.deleteRecord(service, 'users', id);
        for (const start = Date.now(); Date.now() === start; ) await new Promise((resolve) => setTimeout(resolve, 1));
        await fx.enclave.vault.createRecord(service, 'users', { id, data: userData(s2, 'theirs@x.test') });
        deleting.release();
        await rejectsWith(deleted, 'forbidden');
      } finally {
        deleting.restore();
      }
      const kept = await fx.enclave.vault.getRecord(service, 'users', id);
      assert.deepEqual([kept.subject, kept.data['email']], [s2, 'theirs@x.test']);
    });

    void it('refuses to move a record to another subject on replace (subject_mismatch) and changes nothing', async () => {
      const s1 = uid('s');
      const s2 = uid('s');
      const id = uid('u');
      await fx.enclave.vault.registerSubject(service, { id: s1, country: 'US' });
      await fx.enclave.vault.registerSubject(service, { id: s2, country: 'US' });
      await fx.enclave.vault.createRecord(service, 'users', { id, data: userData(s1, 'mine@x.test') });
      const err = await rejectsWith(fx.enclave.vault.replaceRecord(service, 'users', id, { data: userData(s2, 'stolen@x.test') }), 'subject_mismatch');
      assert.equal(err.details?.field, 'user_id');
      const now = await fx.enclave.vault.getRecord(service, 'users', id);
      assert.deepEqual([now.subject, now.version, now.data['email']], [s1, 1, 'mine@x.test']);
    });

    void it('refuses a duplicate record id and unknown collections', async () => {
      const s = uid('s');
      const id = uid('u');
      await fx.enclave.vault.registerSubject(service, { id: s, country: 'US' });
      await fx.enclave.vault.createRecord(service, 'users', { id, data: userData(s, 'first@x.test') });
      await rejectsWith(fx.enclave.vault.createRecord(service, 'users', { id, data: userData(s, 'second@x.test') }), 'record_exists');
      assert.equal((await fx.enclave.vault.getRecord(service, 'users', id)).data['email'], 'first@x.test');
      await rejectsWith(fx.enclave.vault.createRecord(service, 'payments', { data: { x: 1 } }), 'unknown_collection', /payments/);
    });

    void it('lists a subject\'s records page by page with a cursor', async () => {
      const s = uid('s');
      await fx.enclave.vault.registerSubject(service, { id: s, country: 'US' });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const id = `${s}-m${i}`;
        ids.push(id);
        await fx.enclave.vault.createRecord(service, 'messages', { id, data: { sender_id: s, recipient_id: 'r', body: `body ${i}`, sent_at: '2024-01-01T00:00:00Z' } });
      }
      await fx.enclave.vault.createRecord(service, 'users', { id: `${s}-u`, data: userData(s) });
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let guard = 0; guard < 10; guard++) {
        const page = await fx.enclave.vault.listSubjectRecords(service, s, { limit: 2, ...(cursor ? { cursor } : {}) });
        seen.push(...page.records.map((r) => `${r.collection}/${r.id}`));
        if (page.next === null) break;
        cursor = page.next;
      }
      assert.deepEqual(seen, [...ids.map((id) => `messages/${id}`), `users/${s}-u`]);
      const onlyUsers = await fx.enclave.vault.listSubjectRecords(service, s, { collection: 'users' });
      assert.deepEqual(onlyUsers.records.map((r) => r.id), [`${s}-u`]);
      assert.equal(onlyUsers.records[0]?.data['email'], `${s}@x.test`);
      await rejectsWith(fx.enclave.vault.listSubjectRecords(service, s, { cursor: 'not-a-cursor' }), 'invalid_request');
    });
  });

  void describe('the parent company (invariant 2)', () => {
    void it('reads public fields only; protected fields are withheld and no protected value is returned', async () => {
      const s = uid('s');
      const u = uid('u');
      const m = uid('m');
      await fx.enclave.vault.registerSubject(service, { id: s, country: 'US' });
      await fx.enclave.vault.createRecord(service, 'users', { id: u, data: { user_id: s, username: 'public-name', email: 'hidden-email@x.test', phone: 'hidden-phone' } });
      await fx.enclave.vault.createRecord(service, 'messages', { id: m, data: { sender_id: s, recipient_id: 'hidden-recipient', body: 'hidden-body', sent_at: '2024-01-01T00:00:00Z' } });
      const got = await fx.enclave.vault.getRecord(parent, 'users', u);
      assert.deepEqual(got.data, { user_id: s, username: 'public-name' });
      assert.deepEqual(got.withheld, ['email', 'phone', 'birthdate']);
      const list = await fx.enclave.vault.listSubjectRecords(parent, s);
      const json = JSON.stringify([got, list]);
      for (const secret of ['hidden-email', 'hidden-phone', 'hidden-recipient', 'hidden-body', '2024-01-01T00:00:00Z']) assert.ok(!json.includes(secret), secret);
      assert.deepEqual(list.records.find((r) => r.collection === 'messages')?.withheld, ['recipient_id', 'body', 'sent_at']);
      // The service principal with reads: protected sees them all.
      assert.equal((await fx.enclave.vault.getRecord(service, 'users', u)).data['email'], 'hidden-email@x.test');
    });

    void it('may not write, delete, erase or re-home', async () => {
      const s = uid('s');
      const u = uid('u');
      await fx.enclave.vault.registerSubject(service, { id: s, country: 'US' });
      await fx.enclave.vault.createRecord(service, 'users', { id: u, data: userData(s) });
      await rejectsWith(fx.enclave.vault.createRecord(parent, 'users', { data: userData(s) }), 'forbidden');
      await rejectsWith(fx.enclave.vault.replaceRecord(parent, 'users', u, { data: userData(s, 'x@x.test') }), 'forbidden');
      await rejectsWith(fx.enclave.vault.deleteRecord(parent, 'users', u), 'forbidden');
      await rejectsWith(fx.enclave.vault.eraseSubject(parent, s), 'forbidden');
      await rejectsWith(fx.enclave.vault.rehomeSubject(parent, s, 'DE'), 'forbidden');
      await rejectsWith(fx.enclave.vault.registerSubject(parent, { id: uid('p'), country: 'US' }), 'forbidden');
      assert.equal((await fx.enclave.vault.getRecord(service, 'users', u)).version, 1);
    });
  });

  void describe('re-homing', () => {
    async function seed(country: string) {
      const s = uid('mover');
      await fx.enclave.vault.registerSubject(service, { id: s, country });
      const made = [
        await fx.enclave.vault.createRecord(service, 'users', { id: `${s}-u`, data: userData(s, 'mover@x.test') }),
        await fx.enclave.vault.createRecord(service, 'messages', { id: `${s}-m`, data: { sender_id: s, recipient_id: 'r', body: 'moving body', sent_at: '2024-01-01T00:00:00Z' } }),
        await fx.enclave.vault.createRecord(service, 'videos', { id: `${s}-v`, data: { owner_id: s, title: 'public video', views: 3, published_at: '2024-01-01T00:00:00Z' } }),
      ];
      await fx.enclave.vault.replaceRecord(service, 'users', `${s}-u`, { data: userData(s, 'mover-v2@x.test') });
      const before = await fx.enclave.vault.listSubjectRecords(service, s);
      return { s, made, before };
    }

    void it('moves the subject and all their records from trusted-us to eu-central, readable and unchanged', async () => {
      const { s, before } = await seed('US');
      const oldKey = (await site(fx, 'trusted-us').subjects.get(s))?.wrappedKey;
      assert.ok(oldKey);
      const result = await fx.enclave.vault.rehomeSubject(officer, s, 'DE');
      assert.deepEqual(result, { subject: s, from: { jurisdiction: 'us', site: 'trusted-us' }, to: { jurisdiction: 'eu', site: 'eu-central' }, records: 3 });

      assert.deepEqual(await subjectSites(fx, s), ['eu-central']);
      for (const r of before.records) assert.deepEqual(await recordSites(fx, r.collection, r.id), ['eu-central'], r.id);
      assert.deepEqual(await site(fx, 'trusted-us').records.listBySubject(s), []);

      const moved = await site(fx, 'eu-central').subjects.get(s);
      assert.ok(moved?.wrappedKey);
      assert.deepEqual([moved.country, moved.jurisdiction, moved.movedTo], ['DE', 'eu', null]);
      assert.notDeepEqual(Buffer.from(moved.wrappedKey), Buffer.from(oldKey), 'the data key is re-wrapped under the new site\'s key');

      const view = await fx.enclave.vault.getSubject(service, s);
      assert.deepEqual([view.site, view.country, view.jurisdiction], ['eu-central', 'DE', 'eu']);
      const after = await fx.enclave.vault.listSubjectRecords(service, s);
      assert.deepEqual(after.records, before.records, 'same records, same versions, same data');
      // And the subject can be written at the new home, at the revision read before the move (the copy keeps the incarnation).
      const read = before.records.find((r) => r.id === `${s}-u`);
      assert.ok(read);
      const v3 = await fx.enclave.vault.replaceRecord(service, 'users', `${s}-u`, { data: userData(s, 'in-europe@x.test'), ifMatch: revisionOf(read) });
      assert.equal(v3.version, 3);
      assert.deepEqual(await recordSites(fx, 'users', `${s}-u`), ['eu-central']);
    });

    void it('an interrupted re-home (copied and marked, not purged) resolves to the destination, and re-running completes it', async () => {
      const { s, before } = await seed('US');
      const src = site(fx, 'trusted-us');
      const dest = site(fx, 'eu-central');
      // Simulate a crash after the copy and the mark, before the purge.
      const row = await src.subjects.get(s);
      assert.ok(row?.wrappedKey);
      const records: RecordRow[] = await src.records.listBySubject(s);
      const wrappedKey = fx.enclave.keyring.rewrap('trusted-us', 'eu-central', s, row.wrappedKey);
      await dest.importSubject({ ...row, country: 'DE', jurisdiction: 'eu', wrappedKey, movedTo: null }, records);
      assert.equal(await src.subjects.setMovedTo(s, killedMark('eu-central'), null), true);

      const view = await fx.enclave.vault.getSubject(service, s);
      assert.deepEqual([view.site, view.country], ['eu-central', 'DE'], 'the destination copy is authoritative');
      assert.deepEqual((await fx.enclave.vault.listSubjectRecords(service, s)).records, before.records);

      await fx.enclave.vault.rehomeSubject(officer, s, 'DE');
      assert.deepEqual(await subjectSites(fx, s), ['eu-central'], 'the source copy is purged by the re-run');
      assert.deepEqual(await src.records.listBySubject(s), []);
      for (const r of before.records) assert.deepEqual(await recordSites(fx, r.collection, r.id), ['eu-central'], r.id);
      assert.deepEqual((await fx.enclave.vault.listSubjectRecords(service, s)).records, before.records);
    });

    void it('an interrupted re-home that only copied (no mark) completes on re-run', async () => {
      const { s, before } = await seed('US');
      const src = site(fx, 'trusted-us');
      const row = await src.subjects.get(s);
      assert.ok(row?.wrappedKey);
      const wrappedKey = fx.enclave.keyring.rewrap('trusted-us', 'eu-central', s, row.wrappedKey);
      await site(fx, 'eu-central').importSubject({ ...row, country: 'DE', jurisdiction: 'eu', wrappedKey }, await src.records.listBySubject(s));
      const result = await fx.enclave.vault.rehomeSubject(officer, s, 'DE');
      assert.equal(result.to.site, 'eu-central');
      assert.deepEqual(await subjectSites(fx, s), ['eu-central']);
      assert.deepEqual((await fx.enclave.vault.listSubjectRecords(service, s)).records, before.records);
    });

    void it('a move within one jurisdiction (US to PR) records the new residence and keeps the site', async () => {
      const { s, before } = await seed('US');
      const result = await fx.enclave.vault.rehomeSubject(officer, s, 'PR');
      assert.deepEqual(result, { subject: s, from: { jurisdiction: 'us', site: 'trusted-us' }, to: { jurisdiction: 'us', site: 'trusted-us' }, records: 0 });
      const view = await fx.enclave.vault.getSubject(service, s);
      assert.deepEqual([view.site, view.country, view.jurisdiction], ['trusted-us', 'PR', 'us']);
      assert.deepEqual((await fx.enclave.vault.listSubjectRecords(service, s)).records, before.records);
    });

    void it('interrupted after the mark: reads still work, writes are refused with subject_moving, re-running completes the move', async () => {
      const { s, before } = await seed('US');
      assert.equal(await site(fx, 'trusted-us').subjects.setMovedTo(s, killedMark('eu-central'), null), true);
      assert.deepEqual((await fx.enclave.vault.listSubjectRecords(service, s)).records, before.records);
      assert.equal((await fx.enclave.vault.getRecord(service, 'users', `${s}-u`)).data['email'], 'mover-v2@x.test');
      await rejectsWith(fx.enclave.vault.replaceRecord(service, 'users', `${s}-u`, { data: userData(s, 'lost@x.test') }), 'subject_moving');
      await rejectsWith(fx.enclave.vault.createRecord(service, 'users', { id: `${s}-new`, data: userData(s) }), 'subject_moving');
      await rejectsWith(fx.enclave.vault.deleteRecord(service, 'users', `${s}-u`), 'subject_moving');
      await fx.enclave.vault.rehomeSubject(officer, s, 'DE');
      assert.deepEqual(await subjectSites(fx, s), ['eu-central']);
      assert.deepEqual((await fx.enclave.vault.listSubjectRecords(service, s)).records, before.records, 'nothing written during the move, nothing lost');
      const v = await fx.enclave.vault.replaceRecord(service, 'users', `${s}-u`, { data: userData(s, 'after@x.test') });
      assert.equal(v.version, 3);
    });

    void it('another instance\'s mark: refused while its holder may still run (nothing copied), taken over once it is gone', async () => {
      const us = site(fx, 'trusted-us');
      const eu = site(fx, 'eu-central');
      const gonePid = spawnSync(process.execPath, ['-e', '']).pid;
      const holders: { what: string; live: MoveMark; gone: MoveMark }[] = [
        // Another host: a lease of ten minutes from the mark.
        { what: 'another host', live: { site: 'eu-central', owner: 'other-host:42:aa', startedAt: Date.now() - 60_000 }, gone: { site: 'eu-central', owner: 'other-host:42:aa', startedAt: Date.now() - 11 * 60_000 } },
        // This host: as long as the process lives, however old the mark; at once when it is gone.
        { what: 'this host', live: { site: 'eu-central', owner: `${hostname()}:${process.ppid}:bb`, startedAt: 0 }, gone: { site: 'eu-central', owner: `${hostname()}:${gonePid}:bb`, startedAt: Date.now() } },
      ];
      for (const { what, live, gone } of holders) {
        const { s, before } = await seed('US');
        assert.equal(await us.subjects.setMovedTo(s, live, null), true);
        await rejectsWith(fx.enclave.vault.rehomeSubject(officer, s, 'DE'), 'subject_moving', /being re-homed to site "eu-central" by another instance/);
        await rejectsWith(fx.enclave.vault.rehomeSubject(officer, s, 'PR'), 'subject_moving');
        assert.equal(await eu.subjects.get(s), undefined, `${what}: nothing copied`);
        assert.equal((await us.subjects.get(s))?.moveOwner, live.owner, `${what}: the mark is left to its holder`);
        assert.equal(await us.subjects.setMovedTo(s, gone, live.owner), true);
        await fx.enclave.vault.rehomeSubject(officer, s, 'DE');
        assert.deepEqual(await subjectSites(fx, s), ['eu-central'], what);
        assert.deepEqual((await fx.enclave.vault.listSubjectRecords(service, s)).records, before.records, what);
      }
    });

    void it('moving back to a site that still holds a stale copy replaces it with the current data', async () => {
      const { s } = await seed('US');
      const src = site(fx, 'trusted-us');
      // Crash after copy to eu-central, before the purge; then the subject is written at eu-central.
      await killedAfterCopy(fx, s);
      await fx.enclave.vault.replaceRecord(service, 'users', `${s}-u`, { data: userData(s, 'written-in-eu@x.test') });
      // The subject moves back to the US before anyone completed the first move.
      await fx.enclave.vault.rehomeSubject(officer, s, 'US');
      assert.deepEqual(await subjectSites(fx, s), ['trusted-us']);
      const rec = await fx.enclave.vault.getRecord(service, 'users', `${s}-u`);
      assert.deepEqual([rec.data['email'], rec.version], ['written-in-eu@x.test', 3], 'the stale US copy did not win');
      assert.equal((await src.subjects.get(s))?.movedTo, null);
    });

    void it('refuses a destination without a jurisdiction and leaves the subject where it is', async () => {
      const { s, before } = await seed('DE');
      await rejectsWith(fx.enclave.vault.rehomeSubject(officer, s, 'BR'), 'no_jurisdiction');
      assert.deepEqual(await subjectSites(fx, s), ['eu-central']);
      assert.deepEqual((await fx.enclave.vault.listSubjectRecords(service, s)).records, before.records);
    });
  });

  void describe('bulk import', () => {
    void it('skips subjects that exist at another site and refuses record ids another subject holds there, so ids stay unique across the enclave', async () => {
      const s = uid('bulk');
      await fx.enclave.vault.registerSubject(service, { id: s, country: 'DE' });
      await fx.enclave.vault.createRecord(service, 'users', { id: `${s}-u`, data: userData(s, 'eu@x.test') });
      // The same subject id offered again with a US country: already registered (in the EU), left alone.
      const subjects = await fx.enclave.vault.importSubjects(service, [{ id: s, country: 'US' }, { id: `${s}-2`, country: 'US' }, { id: `${s}-3`, country: 'BR' }]);
      assert.deepEqual([subjects.created, subjects.existing, subjects.refused.map((r) => r.code)], [1, 1, ['no_jurisdiction']]);
      assert.deepEqual(await subjectSites(fx, s), ['eu-central']);
      // A US subject's record may not reuse an id held at eu-central.
      const records = await fx.enclave.vault.importRecords(service, 'users', [
        { id: `${s}-u`, data: userData(`${s}-2`, 'dup@x.test') },
        { id: `${s}-2u`, data: userData(`${s}-2`, 'us@x.test') },
      ]);
      assert.deepEqual([records.created, records.existing, records.refused], [1, 0, [{ id: `${s}-u`, code: 'subject_mismatch' }]]);
      assert.deepEqual(await recordSites(fx, 'users', `${s}-u`), ['eu-central']);
      assert.equal((await fx.enclave.vault.getRecord(service, 'users', `${s}-u`)).data['email'], 'eu@x.test');
      // Its own subject offering it again (from the EU) finds it there: already imported, not refused.
      const again = await fx.enclave.vault.importRecords(service, 'users', [{ id: `${s}-u`, data: userData(s, 'eu@x.test') }]);
      assert.deepEqual([again.created, again.existing, again.refused], [0, 1, []]);
    });

    void it('refuses a record id another subject holds at the same site, with or without replace, and leaves that record alone', async () => {
      const [a, b] = [uid('owner'), uid('other')];
      await fx.enclave.vault.importSubjects(service, [{ id: a, country: 'US' }, { id: b, country: 'US' }]);
      const id = `${a}-u`;
      assert.equal((await fx.enclave.vault.importRecords(service, 'users', [{ id, data: userData(a, 'a@x.test') }])).created, 1);
      for (const replace of [false, true]) {
        const r = await fx.enclave.vault.importRecords(service, 'users', [{ id, data: userData(b, 'b@x.test') }, { id: `${b}-u`, data: userData(b) }], { replace });
        assert.deepEqual([r.existing, r.refused], [replace ? 1 : 0, [{ id, code: 'subject_mismatch' }]], `replace: ${String(replace)}`);
      }
      const kept = await fx.enclave.vault.getRecord(service, 'users', id);
      assert.deepEqual([kept.subject, kept.version, kept.data['email']], [a, 1, 'a@x.test']);
    });

    void it('with replace, replaces only records its principal created: another\'s is refused (record_exists) and left alone, whatever it holds', async () => {
      const s = uid('creator');
      await fx.enclave.vault.registerSubject(service, { id: s, country: 'US' });
      const other = { ...(await fx.enclave.tokens.authenticate((await fx.enclave.tokens.issue({ principal: uid('other-app'), org: 'platform', role: 'service' })).secret)), purpose: service.purpose };
      await fx.enclave.vault.createRecord(other, 'users', { id: `${s}-theirs`, data: userData(s, 'theirs@x.test') });
      assert.equal((await fx.enclave.vault.importRecords(service, 'users', [{ id: `${s}-mine`, data: userData(s, 'mine@x.test') }])).created, 1);
      const r = await fx.enclave.vault.importRecords(service, 'users', [{ id: `${s}-theirs`, data: userData(s, 'new@x.test') }, { id: `${s}-mine`, data: userData(s, 'new@x.test') }], { replace: true });
      assert.deepEqual([r.replaced, r.refused], [1, [{ id: `${s}-theirs`, code: 'record_exists' }]]);
      const theirs = await fx.enclave.vault.getRecord(service, 'users', `${s}-theirs`);
      assert.deepEqual([theirs.version, theirs.data['email']], [1, 'theirs@x.test']);
      assert.equal((await fx.enclave.vault.getRecord(service, 'users', `${s}-mine`)).data['email'], 'new@x.test');
      // Deleting only one's own: another's is refused and stays; one's own goes.
      await rejectsWith(fx.enclave.vault.deleteRecord(service, 'users', `${s}-theirs`, undefined, true), 'record_exists');
      assert.equal((await fx.enclave.vault.getRecord(service, 'users', `${s}-theirs`)).version, 1);
      await fx.enclave.vault.deleteRecord(service, 'users', `${s}-mine`, undefined, true);
      await rejectsWith(fx.enclave.vault.getRecord(service, 'users', `${s}-mine`), 'record_not_found');
    });

    void it('refuses, item by item and in order, the records of unknown and erased subjects and writes the others of the same batch', async () => {
      const [a, b, gone] = [uid('a'), uid('b'), uid('gone')];
      await fx.enclave.vault.importSubjects(service, [{ id: a, country: 'US' }, { id: b, country: 'DE' }, { id: gone, country: 'US' }]);
      await fx.enclave.vault.eraseSubject(officer, gone);
      const nobody = uid('nobody');
      const records = await fx.enclave.vault.importRecords(service, 'users', [
        { id: `${a}-1`, data: userData(a) },
        { id: `${nobody}-1`, data: userData(nobody) },
        { id: `${b}-1`, data: userData(b) },
        { id: `${gone}-1`, data: userData(gone) },
        { id: `${a}-2`, data: userData(a, 'second@x.test') },
        { id: `${nobody}-2`, data: userData(nobody) },
      ]);
      assert.equal(records.created, 3);
      assert.deepEqual(records.refused, [
        { id: `${nobody}-1`, code: 'subject_not_found' },
        { id: `${gone}-1`, code: 'subject_erased' },
        { id: `${nobody}-2`, code: 'subject_not_found' },
      ]);
      assert.deepEqual(await recordSites(fx, 'users', `${b}-1`), ['eu-central']);
      assert.equal((await fx.enclave.vault.getRecord(service, 'users', `${a}-2`)).data['email'], 'second@x.test');
    });

    void it('refuses non-finite numbers instead of storing them as null', async () => {
      const s = uid('nan');
      await fx.enclave.vault.registerSubject(service, { id: s, country: 'US' });
      for (const views of [Number.NaN, Number.POSITIVE_INFINITY]) {
        await rejectsWith(fx.enclave.vault.createRecord(service, 'videos', { data: { owner_id: s, title: 't', views, published_at: '2024-01-01T00:00:00Z' } }), 'invalid_field', /views/);
      }
    });
  });

  void describe('erasure', () => {
    void it('answers subject_erased for the subject\'s records and refuses new writes', async () => {
      const s = uid('s');
      const u = uid('u');
      await fx.enclave.vault.registerSubject(service, { id: s, country: 'DE' });
      await fx.enclave.vault.createRecord(service, 'users', { id: u, data: userData(s) });
      await fx.enclave.vault.createRecord(service, 'videos', { id: `${u}-v`, data: { owner_id: s, title: 't', views: 1, published_at: '2024-01-01T00:00:00Z' } });
      const result = await fx.enclave.vault.eraseSubject(officer, s);
      assert.equal(result.records, 2);
      for (const p of [service, parent]) {
        await rejectsWith(fx.enclave.vault.getRecord(p, 'users', u), 'subject_erased');
        await rejectsWith(fx.enclave.vault.getRecord(p, 'videos', `${u}-v`), 'subject_erased');
        await rejectsWith(fx.enclave.vault.listSubjectRecords(p, s), 'subject_erased');
      }
      await rejectsWith(fx.enclave.vault.createRecord(service, 'users', { data: userData(s) }), 'subject_erased');
      await rejectsWith(fx.enclave.vault.replaceRecord(service, 'users', u, { data: userData(s) }), 'subject_erased');
      await rejectsWith(fx.enclave.vault.eraseSubject(officer, s), 'subject_erased');
      await rejectsWith(fx.enclave.vault.rehomeSubject(officer, s, 'US'), 'subject_erased');
      const view = await fx.enclave.vault.getSubject(service, s);
      assert.equal(view.erased, true);
      assert.notEqual(view.erased_at, null);
      await rejectsWith(fx.enclave.vault.registerSubject(service, { id: s, country: 'DE' }), 'subject_exists');
    });

    void it('erasing a subject whose re-home was interrupted after the copy destroys the source copy too: no data key of theirs is left anywhere', async () => {
      const s = await halfMoved(fx, 'half-moved');
      await fx.enclave.vault.eraseSubject(officer, s);
      await assertNoLiveKey(fx, s);
      assert.deepEqual(await site(fx, 'trusted-us').records.listBySubject(s), [], 'nothing of theirs left at the site they were leaving');
      await rejectsWith(fx.enclave.vault.getRecord(service, 'users', `${s}-u`), 'subject_erased');
    });

    void it('an erasure and a re-home given at once never leave the erased subject readable anywhere', async () => {
      for (const erasedFirst of [true, false]) {
        const s = uid('race');
        await fx.enclave.vault.registerSubject(service, { id: s, country: 'US' });
        await fx.enclave.vault.createRecord(service, 'users', { id: `${s}-u`, data: userData(s) });
        const erasing = () => fx.enclave.vault.eraseSubject(officer, s);
        const moving = () => fx.enclave.vault.rehomeSubject(officer, s, 'DE');
        const [erase] = await Promise.allSettled(erasedFirst ? [erasing(), moving()] : [moving(), erasing()].reverse());
        if (erase?.status !== 'fulfilled') {
          // The move won: the erasure is refused while it is under way, and may be given again after it.
          assert.equal((erase?.reason as EnclaveError).code, 'subject_moving');
          await fx.enclave.vault.rehomeSubject(officer, s, 'DE');
          await fx.enclave.vault.eraseSubject(officer, s);
        }
        await assertNoLiveKey(fx, s);
        await rejectsWith(fx.enclave.vault.getRecord(service, 'users', `${s}-u`), 'subject_erased');
      }
    });

    void it('erases a subject whose re-home was killed after its mark, with part of its copy made: no key and no copy anywhere, and a late copy is refused', async () => {
      const s = uid('stuck');
      await fx.enclave.vault.registerSubject(service, { id: s, country: 'US' });
      await fx.enclave.vault.createRecord(service, 'users', { id: `${s}-u`, data: userData(s) });
      await fx.enclave.vault.createRecord(service, 'messages', { id: `${s}-m`, data: { sender_id: s, recipient_id: 'r', body: 'stuck body', sent_at: '2024-01-01T00:00:00Z' } });
      const us = site(fx, 'trusted-us');
      const eu = site(fx, 'eu-central');
      const row = await us.subjects.get(s);
      assert.ok(row?.wrappedKey);
      const records = await us.records.listBySubject(s);
      // Killed after its mark, while its copy was under way: one record of theirs reached the destination.
      await us.subjects.setMovedTo(s, killedMark('eu-central'), null);
      assert.ok(records[0]);
      await eu.records.insert(records[0]);
      await rejectsWith(fx.enclave.vault.replaceRecord(service, 'users', `${s}-u`, { data: userData(s, 'x@x.test') }), 'subject_moving');

      const erased = await fx.enclave.vault.eraseSubject(officer, s);
      assert.equal(erased.records, 2);
      await assertNoLiveKey(fx, s);
      assert.deepEqual(await eu.records.listBySubject(s), [], 'the partial copy is gone');
      const src = await us.subjects.get(s);
      assert.deepEqual([src?.erasedAt, src?.movedTo, src?.moveOwner], [Date.parse(erased.erased_at), null, null], 'erased at the source, the mark cleared');
      assert.equal((await eu.subjects.get(s))?.erasedAt, Date.parse(erased.erased_at), 'an erased row where the move was going');
      await rejectsWith(fx.enclave.vault.getRecord(service, 'users', `${s}-u`), 'subject_erased');
      await rejectsWith(fx.enclave.vault.listSubjectRecords(service, s), 'subject_erased');
      await rejectsWith(fx.enclave.vault.rehomeSubject(officer, s, 'DE'), 'subject_erased');
      // The killed move's copy, had it still been on its way, cannot bring them back.
      const wrappedKey = fx.enclave.keyring.rewrap('trusted-us', 'eu-central', s, row.wrappedKey);
      await rejectsWith(eu.importSubject({ ...row, country: 'DE', jurisdiction: 'eu', wrappedKey }, records), 'subject_erased');
      await assertNoLiveKey(fx, s);
    });

    void it('an erasure while another instance re-homes the subject is not refused, and leaves nothing readable wherever the move was', async () => {
      const other = otherInstance(fx);
      for (const at of ['before its copy', 'after its copy'] as const) {
        const s = uid('live-move');
        await fx.enclave.vault.registerSubject(service, { id: s, country: 'US' });
        await fx.enclave.vault.createRecord(service, 'users', { id: `${s}-u`, data: userData(s) });
        // The other instance's move stops at its copy to eu-central, or at its purge of trusted-us.
        const hold = at === 'before its copy' ? holdNext(site(fx, 'eu-central'), 'importSubject') : holdNext(site(fx, 'trusted-us'), 'purgeSubject');
        let move: Promise<unknown> = Promise.resolve();
        try {
          move = other.rehomeSubject(officer, s, 'DE');
          await hold.reached;
          await fx.enclave.vault.eraseSubject(officer, s);
        } finally {
          hold.release();
          hold.restore();
        }
        // Arriving after the erasure, the move's copy is refused; after its copy, only its purge was left.
        if (at === 'before its copy') await rejectsWith(move, 'subject_erased');
        else await move;
        await assertNoLiveKey(fx, s);
        await rejectsWith(fx.enclave.vault.getRecord(service, 'users', `${s}-u`), 'subject_erased');
        await rejectsWith(other.getRecord(service, 'users', `${s}-u`), 'subject_erased');
        // Crypto-shredded where the copy was made, gone where it was not.
        const left = await site(fx, 'eu-central').records.listBySubject(s);
        assert.deepEqual(left.map((r) => r.publicJson), at === 'before its copy' ? [] : ['{}'], at);
      }
    });

    void it('is refused to roles without subject.erase', async () => {
      const s = uid('s');
      await fx.enclave.vault.registerSubject(service, { id: s, country: 'US' });
      await rejectsWith(fx.enclave.vault.eraseSubject(service, s), 'forbidden');
      assert.equal((await fx.enclave.vault.getSubject(service, s)).erased, false);
    });
  });
});

void describe('re-homing across three home sites', () => {
  let fx: Fixture;
  before(async () => {
    fx = await makeFixture({
      config: (starter) =>
        starter
          .replace('\n    home_site: eu-central\n', '\n    home_site: eu-central\n  - id: uk\n    countries: [GB]\n    home_site: trusted-uk\n')
          .replace('\nsites:\n', '\nsites:\n  - id: trusted-uk\n    operator: trusted-provider\n    country: GB\n    role: home\n    storage: sqlite:sites/trusted-uk.db\n'),
    });
  });
  after(async () => {
    await fx.close();
  });

  void it('a re-home killed after its copy and run again to a third site leaves the subject at that site only', async () => {
    const { officer } = fx.principals;
    // Moved on to the UK since the move to the EU was killed.
    const s = await halfMoved(fx, 'third');
    await fx.enclave.vault.rehomeSubject(officer, s, 'GB');
    assert.deepEqual(await subjectSites(fx, s), ['trusted-uk']);
    assert.deepEqual(await recordSites(fx, 'users', `${s}-u`), ['trusted-uk']);
    // Erasure then leaves no live key behind.
    await fx.enclave.vault.eraseSubject(officer, s);
    await assertNoLiveKey(fx, s);
  });

  void it('two re-homes of one subject at once end at one site, and an erasure then leaves nothing readable', async () => {
    const { officer, service } = fx.principals;
    for (const [a, b] of [['DE', 'GB'], ['GB', 'DE'], ['DE', 'US']] as const) {
      const s = uid('two');
      await fx.enclave.vault.registerSubject(service, { id: s, country: 'US' });
      await fx.enclave.vault.createRecord(service, 'users', { id: `${s}-u`, data: userData(s) });
      const moves = await Promise.allSettled([fx.enclave.vault.rehomeSubject(officer, s, a), fx.enclave.vault.rehomeSubject(officer, s, b)]);
      assert.deepEqual(moves.map((m) => m.status), ['fulfilled', 'fulfilled'], `${a} then ${b}: the second runs after the first`);
      const last = { DE: 'eu-central', GB: 'trusted-uk', US: 'trusted-us' }[b];
      assert.deepEqual(await subjectSites(fx, s), [last], `${a}, ${b}: one copy, where the later move put it`);
      assert.deepEqual(await recordSites(fx, 'users', `${s}-u`), [last]);
      await fx.enclave.vault.eraseSubject(officer, s);
      await assertNoLiveKey(fx, s);
      await rejectsWith(fx.enclave.vault.getRecord(service, 'users', `${s}-u`), 'subject_erased');
    }
  });

  void it('two re-homes of one subject through two instances at once: one moves them, the other answers subject_moving and copies nothing', async () => {
    const { officer, service } = fx.principals;
    const other = otherInstance(fx);
    const us = site(fx, 'trusted-us');
    for (const when of ['marks between the read and the mark of the other', 'is copying when the other starts'] as const) {
      const s = uid('two-instances');
      await fx.enclave.vault.registerSubject(service, { id: s, country: 'US' });
      await fx.enclave.vault.createRecord(service, 'users', { id: `${s}-u`, data: userData(s) });
      // The other instance's move to the UK stops at its copy, its mark set.
      const copying = holdNext(site(fx, 'trusted-uk'), 'importSubject');
      let theirs: Promise<unknown> | undefined;
      const setMovedTo = us.subjects.setMovedTo.bind(us.subjects);
      try {
        if (when === 'is copying when the other starts') {
          theirs = other.rehomeSubject(officer, s, 'GB');
          await copying.reached;
        } else {
          // This instance has read the subject unmarked; the other marks it just before this one does.
          us.subjects.setMovedTo = async (...args) => {
            us.subjects.setMovedTo = setMovedTo;
            theirs = other.rehomeSubject(officer, s, 'GB');
            await copying.reached;
            return setMovedTo(...args);
          };
        }
        await rejectsWith(fx.enclave.vault.rehomeSubject(officer, s, 'DE'), 'subject_moving', /being re-homed to site "trusted-uk" by another instance/);
        assert.equal(await site(fx, 'eu-central').subjects.get(s), undefined, `${when}: nothing copied`);
      } finally {
        us.subjects.setMovedTo = setMovedTo;
        copying.release();
        copying.restore();
      }
      await theirs;
      assert.deepEqual(await subjectSites(fx, s), ['trusted-uk'], when);
      assert.deepEqual(await recordSites(fx, 'users', `${s}-u`), ['trusted-uk'], when);
      await fx.enclave.vault.eraseSubject(officer, s);
      await assertNoLiveKey(fx, s);
    }
  });

  void it('an erasure that finds the subject moved by another instance meanwhile says so, never 410 for a live subject', async () => {
    const { officer, service } = fx.principals;
    const s = uid('away');
    await fx.enclave.vault.registerSubject(service, { id: s, country: 'US' });
    await fx.enclave.vault.createRecord(service, 'users', { id: `${s}-u`, data: userData(s) });
    // Another instance's vault (no lock shared with this one) moves the subject while this erasure waits.
    const other = fx.enclave.vault as unknown as { rehomeNow(p: typeof officer, id: string, country: string): Promise<unknown> };
    const us = site(fx, 'trusted-us');
    const erase = us.subjects.erase.bind(us.subjects);
    us.subjects.erase = async (id, at) => {
      await other.rehomeNow(officer, s, 'DE');
      return erase(id, at);
    };
    try {
      await rejectsWith(fx.enclave.vault.eraseSubject(officer, s), 'subject_moving', /moved to site "eu-central" while being erased; erase them again/);
    } finally {
      us.subjects.erase = erase;
    }
    assert.equal((await fx.enclave.vault.getSubject(service, s)).erased, false);
    await fx.enclave.vault.eraseSubject(officer, s);
    await rejectsWith(fx.enclave.vault.getRecord(service, 'users', `${s}-u`), 'subject_erased');
    await assertNoLiveKey(fx, s);
  });
});

void describe('a sealed enclave', () => {
  let fx: Fixture;
  before(async () => {
    fx = await makeFixture({ sealed: true });
  });
  after(async () => {
    await fx.close();
  });

  void it('refuses protected writes and reads with code sealed, but serves public-only releases', async () => {
    const { vault, seal } = fx.enclave;
    const { service, parent } = fx.principals;
    assert.equal(seal.status().sealed, true);
    await rejectsWith(vault.registerSubject(service, { id: uid('s'), country: 'US' }), 'sealed');

    // Unseal to write some data, then seal again.
    for (const share of fx.shares.slice(0, 2)) await seal.submit(share);
    assert.equal(seal.status().sealed, false);
    const s = uid('s');
    await vault.registerSubject(service, { id: s, country: 'US' });
    await vault.createRecord(service, 'users', { id: `${s}-u`, data: userData(s, 'sealed-away@x.test') });
    await vault.createRecord(service, 'videos', { id: `${s}-v`, data: { owner_id: s, title: 'public', views: 1, published_at: '2024-01-01T00:00:00Z' } });
    assert.equal(seal.seal().sealed, true);

    await rejectsWith(vault.getRecord(service, 'users', `${s}-u`), 'sealed');
    await rejectsWith(vault.listSubjectRecords(service, s), 'sealed');
    await rejectsWith(vault.createRecord(service, 'users', { data: userData(s) }), 'sealed');
    await rejectsWith(vault.replaceRecord(service, 'users', `${s}-u`, { data: userData(s) }), 'sealed');
    await rejectsWith(vault.registerSubject(service, { id: uid('s'), country: 'DE' }), 'sealed');

    const pub = await vault.getRecord(parent, 'users', `${s}-u`);
    assert.deepEqual(pub.data, { user_id: s, username: `name-${s}` });
    assert.deepEqual(pub.withheld, ['email', 'phone', 'birthdate']);
    const page = await vault.listSubjectRecords(parent, s);
    assert.equal(page.records.length, 2);
    assert.equal((await vault.getRecord(service, 'videos', `${s}-v`)).data['title'], 'public', 'a record without protected fields needs no key');
    assert.equal((await vault.getSubject(service, s)).site, 'trusted-us');

    // Unsealed again with another pair of shares, the same data is readable.
    for (const share of fx.shares.slice(1, 3)) await seal.submit(share);
    assert.equal((await vault.getRecord(service, 'users', `${s}-u`)).data['email'], 'sealed-away@x.test');
  });
});

void describe('a collection with a field named like an Object.prototype property', () => {
  let dir: string;
  let enclave: Enclave;
  let principal: Principal;
  before(async () => {
    dir = tempDir();
    const extra = ['  gadgets:', '    subject: owner_id', '    fields:', '      owner_id: { type: string, class: public }', '      constructor: { type: string, class: protected, required: false }', ''].join('\n');
    writeFileSync(join(dir, CONFIG_FILE), starterConfig() + extra);
    const init = await initEnclave(dir, { dev: true });
    enclave = await openEnclave(loadConfig(init.configPath));
    for (const share of readDevShares(init.dataDir) ?? []) await enclave.seal.submit(share);
    principal = { ...(await enclave.tokens.authenticate((await enclave.tokens.issue({ principal: 'svc', org: 'platform', role: 'service' })).secret)), purpose: 'account' };
  });
  after(async () => {
    await enclave.close();
    rmSync(dir, { recursive: true, force: true });
  });

  void it('stores and returns only the fields the record has', async () => {
    await enclave.vault.registerSubject(principal, { id: 'o1', country: 'US' });
    const without = await enclave.vault.createRecord(principal, 'gadgets', { id: 'g1', data: { owner_id: 'o1' } });
    assert.deepEqual(without.data, { owner_id: 'o1' });
    assert.deepEqual((await enclave.vault.getRecord(principal, 'gadgets', 'g1')).data, { owner_id: 'o1' });
    await enclave.vault.createRecord(principal, 'gadgets', { id: 'g2', data: { owner_id: 'o1', constructor: 'value' } });
    assert.deepEqual((await enclave.vault.getRecord(principal, 'gadgets', 'g2')).data, { owner_id: 'o1', constructor: 'value' });
  });
});

void describe("the log entries of reads under one decision object", () => {
  let fx: Fixture;
  before(async () => {
    fx = await makeFixture();
  });
  after(async () => fx.close());

  void it('name each read\'s own collection and withheld fields, whatever the decision point shares', async () => {
    const { config, router, keyring, control } = fx.enclave;
    const s = uid('shared');
    const { service } = fx.principals;
    await fx.enclave.vault.registerSubject(service, { id: s, country: 'US' });
    await fx.enclave.vault.createRecord(service, 'users', { id: `${s}-u`, data: userData(s) });
    await fx.enclave.vault.createRecord(service, 'messages', { id: `${s}-m`, data: { sender_id: s, recipient_id: 'r', body: 'hello', sent_at: '2026-01-01T00:00:00Z' } });
    const events: LogEventInput[] = [];
    const log: EventLog = { append: (e) => Promise.resolve({ index: events.push(e) - 1 }) };
    // A decision point that answers every request with one object (a cache may): protected, then public.
    let decision: Decision = { allow: true, release: 'protected', policies: ['p'], policyVersion: 1, reason: 'allowed' };
    const vault = new Vault({ config, router, claims: control.subjectClaims, recordClaims: control.recordClaims, keyring, decisions: { decide: () => Promise.resolve(decision) }, log });
    const reads = [['users', `${s}-u`], ['messages', `${s}-m`], ['users', `${s}-u`]] as const;
    const logged = () => events.splice(0).map((e) => [e.details['collection'], e.details['withheld'], e.details['release'], e.principal?.id]);
    for (const [c, id] of reads) assert.deepEqual((await vault.getRecord(service, c, id)).withheld, []);
    assert.deepEqual(logged(), reads.map(([c]) => [c, [], 'protected', service.id]));
    decision = { ...decision, release: 'public' };
    for (const [c, id] of reads) await vault.getRecord(service, c, id);
    const withheld = (c: string) => config.collections.get(c)?.protectedFields;
    assert.deepEqual(logged(), reads.map(([c]) => [c, withheld(c), 'public', service.id]));
  });
});
