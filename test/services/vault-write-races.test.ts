// Writes racing a subject change: a record written while its subject is re-homed or erased must not be
// left at the site the subject left (invariant 1), nor acknowledged and then lost; two registrations of
// one subject id at once leave one subject, at one site.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import type { RecordView } from '../../src/services/vault.ts';
import { makeFixture, type Fixture } from '../helpers/fixture.ts';
import { hold } from '../helpers/hold.ts';

const userData = (subject: string) => ({ user_id: subject, username: `name-${subject}`, email: `${subject}@x.test` });
const NEW_EMAIL = 'new@x.test';

async function settle<T>(p: Promise<T>): Promise<T | Error> {
  return p.then(
    (v) => v,
    (e: unknown) => e as Error,
  );
}

const sub = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

/** A fresh enclave, closed after `body`. */
async function withFixture(body: (fx: Fixture) => Promise<void>): Promise<void> {
  const fx = await makeFixture();
  try {
    await body(fx);
  } finally {
    await fx.close();
  }
}

interface Scene {
  readonly fx: Fixture;
  /** The subject, registered in the US. */
  readonly s: string;
  /** The id of the subject's `users` record. */
  readonly id: string;
}

const create = (sc: Scene, id = sc.id) => sc.fx.enclave.vault.createRecord(sc.fx.principals.service, 'users', { id, data: userData(sc.s) });
const replace = (sc: Scene) => sc.fx.enclave.vault.replaceRecord(sc.fx.principals.service, 'users', sc.id, { data: { ...userData(sc.s), email: NEW_EMAIL } });
const remove = (sc: Scene) => sc.fx.enclave.vault.deleteRecord(sc.fx.principals.service, 'users', sc.id);
const readRecord = (sc: Scene) => sc.fx.enclave.vault.getRecord(sc.fx.principals.service, 'users', sc.id);
const rehome = (sc: Scene) => sc.fx.enclave.vault.rehomeSubject(sc.fx.principals.officer, sc.s, 'DE');

/** A fresh enclave with a subject `<prefix>-…` registered in the US (and its `users` record, with `record`); closed after `body`. */
async function withSubject(prefix: string, record: 'with record' | 'no record', body: (sc: Scene) => Promise<void>): Promise<void> {
  await withFixture(async (fx) => {
    const s = sub(prefix);
    const sc: Scene = { fx, s, id: `${s}-u` };
    await fx.enclave.vault.registerSubject(fx.principals.service, { id: s, country: 'US' });
    if (record === 'with record') await create(sc);
    await body(sc);
  });
}

/** Holds the first append of `type` until released; resolves `reached` when it arrives. */
const holdAppend = (fx: Fixture, type: string) => hold(fx.enclave.log, 'append', (event) => event.type === type, { once: true });

/**
 * Starts `write` and holds it at its log entry `type`; runs `change` meanwhile, giving it every chance to
 * run (200 ms) while the write waits; then lets the write go. Both outcomes, settled.
 */
async function raceAtLogEntry<W, C>(fx: Fixture, type: string, write: () => Promise<W>, change: () => Promise<C>): Promise<[W | Error, C | Error]> {
  const held = holdAppend(fx, type);
  const written = settle(write());
  await held.reached;
  const changed = settle(change());
  await new Promise((r) => setTimeout(r, 200));
  held.release();
  return Promise.all([written, changed]);
}

function assertSucceeded(outcome: unknown, what: string): void {
  assert.ok(!(outcome instanceof Error), `${what} failed: ${inspect(outcome)}`);
}

const assertHoldsReplace = (read: RecordView) => assert.equal(read.data['email'], NEW_EMAIL, 'an acknowledged replace is what the record holds');
const assertGone = (read: unknown) => assert.ok(read instanceof Error && (read as { code?: string }).code === 'record_not_found', 'an acknowledged delete leaves no record');

void describe('a record write racing a re-home', () => {
  void it('a create under way when the subject moves never leaves the record at the old site', async () => {
    await withSubject('mover', 'no record', async (sc) => {
      const [created, moved] = await raceAtLogEntry(sc.fx, 'record.created', () => create(sc), () => rehome(sc));
      assertSucceeded(moved, 're-home');
      const us = sc.fx.enclave.router.store('trusted-us');
      const eu = sc.fx.enclave.router.store('eu-central');
      assert.equal(await us.records.get('users', sc.id), undefined, 'no record of the subject is left at the site they left');
      assert.equal(await us.subjects.get(sc.s), undefined);
      if (!(created instanceof Error)) {
        // Acknowledged: it must be at the subject's home and readable.
        assert.ok(await eu.records.get('users', sc.id), 'an acknowledged create is at the new home');
        const read = await readRecord(sc);
        assert.equal(read.data['email'], `${sc.s}@x.test`);
      }
    });
  });

  void it('a replace under way when the subject moves is not acknowledged and then lost', async () => {
    await withSubject('mover', 'with record', async (sc) => {
      const [replaced, moved] = await raceAtLogEntry(sc.fx, 'record.updated', () => replace(sc), () => rehome(sc));
      assertSucceeded(moved, 're-home');
      const read = await readRecord(sc);
      if (!(replaced instanceof Error)) assertHoldsReplace(read);
      else assert.equal(read.data['email'], `${sc.s}@x.test`);
    });
  });

  void it('a delete under way when the subject moves is not acknowledged while the record lives on', async () => {
    await withSubject('mover', 'with record', async (sc) => {
      const [deleted, moved] = await raceAtLogEntry(sc.fx, 'record.deleted', () => remove(sc), () => rehome(sc));
      assertSucceeded(moved, 're-home');
      const still = await settle(readRecord(sc));
      if (!(deleted instanceof Error)) assertGone(still);
    });
  });
});

void describe('a record write racing an erasure', () => {
  void it('a create under way when the subject is erased leaves no public field of theirs in the clear', async () => {
    await withSubject('erased', 'no record', async (sc) => {
      const [, erased] = await raceAtLogEntry(sc.fx, 'record.created', () => create(sc), () => sc.fx.enclave.vault.eraseSubject(sc.fx.principals.officer, sc.s));
      assertSucceeded(erased, 'erasure');
      const row = await sc.fx.enclave.router.store('trusted-us').records.get('users', sc.id);
      if (row) assert.equal(row.publicJson, '{}', 'an erased subject\'s record keeps no public field');
    });
  });
});

void describe('two registrations of one subject at once', () => {
  void it('leave the subject at one site only', async () => {
    await withFixture(async (fx) => {
      const v = fx.enclave.vault;
      const s = sub('twin');
      const [a, b] = await Promise.all([
        settle(v.registerSubject(fx.principals.service, { id: s, country: 'US' })),
        settle(v.registerSubject(fx.principals.service, { id: s, country: 'DE' })),
      ]);
      const at = [];
      for (const site of fx.enclave.router.homeSites) if (await fx.enclave.router.store(site).subjects.get(s)) at.push(site);
      assert.equal(at.length, 1, `registered at ${at.join(', ')}`);
      assert.equal([a, b].filter((x) => x instanceof Error).length, 1);
    });
  });
});

/** Runs `between` after the destination's copy of a re-home, before the source is purged. */
function betweenCopyAndPurge(fx: Fixture, site: string, between: () => Promise<void>): void {
  const dest = fx.enclave.router.store(site);
  const importSubject = dest.importSubject.bind(dest);
  dest.importSubject = async (...args: Parameters<typeof importSubject>) => {
    await importSubject(...args);
    await between();
  };
}

void describe('a record write landing between a re-home\'s copy and its purge', () => {
  for (const op of ['replace', 'delete'] as const) {
    void it(`a ${op} is not acknowledged and then undone by the move`, async () => {
      await withSubject('mover', 'with record', async (sc) => {
        const held = holdAppend(sc.fx, op === 'replace' ? 'record.updated' : 'record.deleted');
        const write: Promise<unknown> = settle<unknown>(op === 'replace' ? replace(sc) : remove(sc));
        await held.reached;
        betweenCopyAndPurge(sc.fx, 'eu-central', async () => {
          held.release();
          await new Promise((r) => setTimeout(r, 100));
        });
        // A re-home that waits for the write to end gets there once the write's entry is let through.
        const fallback = setTimeout(held.release, 300);
        const moved = await settle(rehome(sc));
        clearTimeout(fallback);
        assertSucceeded(moved, 're-home');
        const written = await write;
        const read = await settle(readRecord(sc));
        if (op === 'replace') {
          assert.ok(!(read instanceof Error), inspect(read));
          if (!(written instanceof Error)) assertHoldsReplace(read);
        } else if (!(written instanceof Error)) {
          assertGone(read);
        }
      });
    });
  }
});

void describe('writes of one subject', () => {
  void it('still run together: one waiting for its log entry does not hold up another', async () => {
    await withSubject('busy', 'no record', async (sc) => {
      const held = holdAppend(sc.fx, 'record.created');
      const first = settle(create(sc, `${sc.s}-1`));
      await held.reached;
      const second = await create(sc, `${sc.s}-2`);
      assert.equal(second.version, 1);
      held.release();
      assert.ok(!((await first) instanceof Error));
    });
  });
});
