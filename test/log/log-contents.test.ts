// Invariant 3 and issue 4, point 1: the transparency log carries no protected value and no raw subject
// identifier. The demo's synthetic population is imported and used through the API; then every stored
// entry, and the raw bytes of the log's database files, are scanned for every subject id and every
// protected value — while each subject's entries are still found through their keyed hash.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeLogEntry, subjectHash } from '../../src/core/log-entry.ts';
import { Population, type DemoUser } from '../../src/cli/demo/population.ts';
import { seedPopulation } from '../helpers/seed-population.ts';
import { makeHttpFixture, type HttpFixture } from '../helpers/http.ts';

let h: HttpFixture;
const users: DemoUser[] = [];

before(async () => {
  h = await makeHttpFixture();
  const population = new Population(7, 120);
  for (let i = 0; i < population.size; i++) users.push(population.user(i));
  await seedPopulation(h.enclave, h.principals.officer, population, { update() {}, stop() {} });
  // Reads, a denial, an update, an erasure and a re-home through the API as well.
  const stored = users.filter((u) => h.enclave.config.countryIndex.has(u.country));
  for (const u of stored.slice(0, 20)) {
    assert.equal((await h.call('service', 'GET', `/v1/collections/users/records/${u.id}`)).statusCode, 200);
    assert.equal((await h.call('parent', 'GET', `/v1/subjects/${u.id}/records`)).statusCode, 200);
  }
  const [a, b, c] = stored;
  assert.ok(a && b && c);
  const profile = a.records.find((r) => r.collection === 'users');
  assert.ok(profile);
  assert.equal((await h.call('service', 'PUT', `/v1/collections/users/records/${a.id}`, { data: { ...profile.data, username: 'renamed' } })).statusCode, 200);
  assert.equal((await h.call('parent', 'PUT', `/v1/collections/users/records/${a.id}`, { data: profile.data })).statusCode, 403);
  assert.equal((await h.call('officer', 'DELETE', `/v1/subjects/${b.id}`)).statusCode, 200);
  assert.equal((await h.call('officer', 'POST', `/v1/subjects/${c.id}/rehome`, { country: c.country === 'DE' ? 'US' : 'DE' })).statusCode, 200);
  await h.enclave.log.sync();
});
after(async () => h.close());

/** Every protected value of the population (long enough not to occur by chance in unrelated text). */
function protectedValues(): string[] {
  const out = new Set<string>();
  for (const u of users) {
    for (const r of u.records) {
      const c = h.enclave.config.collections.get(r.collection);
      for (const [field, value] of Object.entries(r.data)) {
        if (c?.fields.get(field)?.class === 'protected' && String(value).length >= 6) out.add(String(value));
      }
    }
  }
  return [...out];
}

void describe('the log\'s contents', () => {
  void it('hold no subject id and no protected value, in the entries or anywhere in the log\'s files', async () => {
    const size = await h.enclave.log.store.size();
    assert.ok(size > users.length, `the log recorded the activity (${size} entries)`);
    const text = (await h.enclave.log.store.readEntries(0, size)).map((b) => Buffer.from(b).toString('utf8')).join('\n');
    const files = readdirSync(h.dataDir).filter((f) => f.startsWith('log.db')).map((f) => readFileSync(join(h.dataDir, f)));
    assert.ok(files.length > 0);
    const haystacks = [text, ...files.map((f) => f.toString('latin1'))];
    const secrets = protectedValues();
    assert.ok(secrets.length > 100, 'the scan has material');
    for (const needle of [...users.map((u) => u.id), ...secrets]) {
      for (const hay of haystacks) assert.ok(!hay.includes(needle), `the log holds "${needle}"`);
    }
  });

  void it('link every stored subject\'s entries through the keyed hash, and only through it', async () => {
    const key = Buffer.from(h.enclave.log.subjectKey(), 'hex');
    const size = await h.enclave.log.store.size();
    const entries = (await h.enclave.log.store.readEntries(0, size)).map(decodeLogEntry);
    const bySubject = new Map<string, string[]>();
    for (const e of entries) if (e.subject !== null) bySubject.set(e.subject, [...(bySubject.get(e.subject) ?? []), e.type]);
    for (const u of users.filter((x) => h.enclave.config.countryIndex.has(x.country))) {
      const types = bySubject.get(subjectHash(key, u.id));
      assert.ok(types?.includes('subject.registered') && types.includes('record.created'), `${u.id}: ${String(types)}`);
    }
    // Users whose country has no jurisdiction were refused and never logged as registered.
    for (const u of users.filter((x) => !h.enclave.config.countryIndex.has(x.country))) {
      assert.ok(!bySubject.get(subjectHash(key, u.id))?.includes('subject.registered'), u.id);
    }
    const kinds = new Set(entries.map((e) => e.type));
    for (const t of ['key.created', 'enclave.unsealed', 'token.issued', 'subject.registered', 'record.created', 'record.updated', 'access.decision', 'subject.erased', 'subject.rehomed'] as const) {
      assert.ok(kinds.has(t), `no ${t} entry`);
    }
  });
});
