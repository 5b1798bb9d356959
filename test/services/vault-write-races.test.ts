// Writes racing a subject change: a record written while its subject is re-homed or erased must not be
// left at the site the subject left (invariant 1), nor acknowledged and then lost; two registrations of
// one subject id at once leave one subject, at one site.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import type { LogEventInput } from '../../src/core/event-log.ts';
import { makeFixture, type Fixture } from '../helpers/fixture.ts';

const userData = (subject: string) => ({ user_id: subject, username: `name-${subject}`, email: `${subject}@x.test` });

/** Holds the first append of `type` until released; resolves `reached` when it arrives. */
function holdAppend(fx: Fixture, type: string): { reached: Promise<void>; release: () => void } {
  const log = fx.enclave.log;
  const append = log.append.bind(log);
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let arrived!: () => void;
  const reached = new Promise<void>((r) => {
    arrived = r;
  });
  let held = false;
  log.append = async (event: LogEventInput) => {
    if (event.type === type && !held) {
      held = true;
      arrived();
      await gate;
    }
    return append(event);
  };
  return { reached, release };
}

async function settle<T>(p: Promise<T>): Promise<T | Error> {
  return p.then(
    (v) => v,
    (e: unknown) => e as Error,
  );
}

const sub = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

void describe('a record write racing a re-home', () => {
  void it('a create under way when the subject moves never leaves the record at the old site', async () => {
    const fx = await makeFixture();
    try {
      const v = fx.enclave.vault;
      const s = sub('mover');
      await v.registerSubject(fx.principals.service, { id: s, country: 'US' });
      const hold = holdAppend(fx, 'record.created');
      const create = settle(v.createRecord(fx.principals.service, 'users', { id: `${s}-u`, data: userData(s) }));
      await hold.reached;
      const move = settle(v.rehomeSubject(fx.principals.officer, s, 'DE'));
      // Give the re-home every chance to run while the create waits for its log entry.
      await new Promise((r) => setTimeout(r, 200));
      hold.release();
      const [created, moved] = await Promise.all([create, move]);
      assert.ok(!(moved instanceof Error), `re-home failed: ${inspect(moved)}`);
      const us = fx.enclave.router.store('trusted-us');
      const eu = fx.enclave.router.store('eu-central');
      assert.equal(await us.records.get('users', `${s}-u`), undefined, 'no record of the subject is left at the site they left');
      assert.equal(await us.subjects.get(s), undefined);
      if (!(created instanceof Error)) {
        // Acknowledged: it must be at the subject's home and readable.
        assert.ok(await eu.records.get('users', `${s}-u`), 'an acknowledged create is at the new home');
        const read = await v.getRecord(fx.principals.service, 'users', `${s}-u`);
        assert.equal(read.data['email'], `${s}@x.test`);
      }
    } finally {
      await fx.close();
    }
  });

  void it('a replace under way when the subject moves is not acknowledged and then lost', async () => {
    const fx = await makeFixture();
    try {
      const v = fx.enclave.vault;
      const s = sub('mover');
      await v.registerSubject(fx.principals.service, { id: s, country: 'US' });
      await v.createRecord(fx.principals.service, 'users', { id: `${s}-u`, data: userData(s) });
      const hold = holdAppend(fx, 'record.updated');
      const replace = settle(v.replaceRecord(fx.principals.service, 'users', `${s}-u`, { data: { ...userData(s), email: 'new@x.test' } }));
      await hold.reached;
      const move = settle(v.rehomeSubject(fx.principals.officer, s, 'DE'));
      await new Promise((r) => setTimeout(r, 200));
      hold.release();
      const [replaced, moved] = await Promise.all([replace, move]);
      assert.ok(!(moved instanceof Error), `re-home failed: ${inspect(moved)}`);
      const read = await v.getRecord(fx.principals.service, 'users', `${s}-u`);
      if (!(replaced instanceof Error)) assert.equal(read.data['email'], 'new@x.test', 'an acknowledged replace is what the record holds');
      else assert.equal(read.data['email'], `${s}@x.test`);
    } finally {
      await fx.close();
    }
  });

  void it('a delete under way when the subject moves is not acknowledged while the record lives on', async () => {
    const fx = await makeFixture();
    try {
      const v = fx.enclave.vault;
      const s = sub('mover');
      await v.registerSubject(fx.principals.service, { id: s, country: 'US' });
      await v.createRecord(fx.principals.service, 'users', { id: `${s}-u`, data: userData(s) });
      const hold = holdAppend(fx, 'record.deleted');
      const del = settle(v.deleteRecord(fx.principals.service, 'users', `${s}-u`));
      await hold.reached;
      const move = settle(v.rehomeSubject(fx.principals.officer, s, 'DE'));
      await new Promise((r) => setTimeout(r, 200));
      hold.release();
      const [deleted, moved] = await Promise.all([del, move]);
      assert.ok(!(moved instanceof Error), `re-home failed: ${inspect(moved)}`);
      const still = await settle(v.getRecord(fx.principals.service, 'users', `${s}-u`));
      if (!(deleted instanceof Error)) assert.ok(still instanceof Error && (still as { code?: string }).code === 'record_not_found', 'an acknowledged delete leaves no record');
    } finally {
      await fx.close();
    }
  });
});

void describe('a record write racing an erasure', () => {
  void it('a create under way when the subject is erased leaves no public field of theirs in the clear', async () => {
    const fx = await makeFixture();
    try {
      const v = fx.enclave.vault;
      const s = sub('erased');
      await v.registerSubject(fx.principals.service, { id: s, country: 'US' });
      const hold = holdAppend(fx, 'record.created');
      const create = settle(v.createRecord(fx.principals.service, 'users', { id: `${s}-u`, data: userData(s) }));
      await hold.reached;
      const erase = settle(v.eraseSubject(fx.principals.officer, s));
      await new Promise((r) => setTimeout(r, 200));
      hold.release();
      const [, erased] = await Promise.all([create, erase]);
      assert.ok(!(erased instanceof Error), `erasure failed: ${inspect(erased)}`);
      const row = await fx.enclave.router.store('trusted-us').records.get('users', `${s}-u`);
      if (row) assert.equal(row.publicJson, '{}', 'an erased subject\'s record keeps no public field');
    } finally {
      await fx.close();
    }
  });
});

void describe('two registrations of one subject at once', () => {
  void it('leave the subject at one site only', async () => {
    const fx = await makeFixture();
    try {
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
    } finally {
      await fx.close();
    }
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
      const fx = await makeFixture();
      try {
        const v = fx.enclave.vault;
        const s = sub('mover');
        await v.registerSubject(fx.principals.service, { id: s, country: 'US' });
        await v.createRecord(fx.principals.service, 'users', { id: `${s}-u`, data: userData(s) });
        const hold = holdAppend(fx, op === 'replace' ? 'record.updated' : 'record.deleted');
        const write: Promise<unknown> = settle<unknown>(
          op === 'replace'
            ? v.replaceRecord(fx.principals.service, 'users', `${s}-u`, { data: { ...userData(s), email: 'new@x.test' } })
            : v.deleteRecord(fx.principals.service, 'users', `${s}-u`),
        );
        await hold.reached;
        betweenCopyAndPurge(fx, 'eu-central', async () => {
          hold.release();
          await new Promise((r) => setTimeout(r, 100));
        });
        // A re-home that waits for the write to end gets there once the write's entry is let through.
        const fallback = setTimeout(hold.release, 300);
        const moved = await settle(v.rehomeSubject(fx.principals.officer, s, 'DE'));
        clearTimeout(fallback);
        assert.ok(!(moved instanceof Error), `re-home failed: ${inspect(moved)}`);
        const written = await write;
        const read = await settle(v.getRecord(fx.principals.service, 'users', `${s}-u`));
        if (op === 'replace') {
          assert.ok(!(read instanceof Error), inspect(read));
          if (!(written instanceof Error)) assert.equal(read.data['email'], 'new@x.test', 'an acknowledged replace is what the record holds');
        } else if (!(written instanceof Error)) {
          assert.ok(read instanceof Error && (read as { code?: string }).code === 'record_not_found', 'an acknowledged delete leaves no record');
        }
      } finally {
        await fx.close();
      }
    });
  }
});

void describe('writes of one subject', () => {
  void it('still run together: one waiting for its log entry does not hold up another', async () => {
    const fx = await makeFixture();
    try {
      const v = fx.enclave.vault;
      const s = sub('busy');
      await v.registerSubject(fx.principals.service, { id: s, country: 'US' });
      const hold = holdAppend(fx, 'record.created');
      const first = settle(v.createRecord(fx.principals.service, 'users', { id: `${s}-1`, data: userData(s) }));
      await hold.reached;
      const second = await v.createRecord(fx.principals.service, 'users', { id: `${s}-2`, data: userData(s) });
      assert.equal(second.version, 1);
      hold.release();
      assert.ok(!((await first) instanceof Error));
    } finally {
      await fx.close();
    }
  });
});
