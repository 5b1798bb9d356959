// Shamir sealing: k of the officers' shares unseal; foreign, malformed and repeated shares are refused
// on entry; a reconstruction that does not match the root check never unseals.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { EnclaveError, type ErrorCode } from '../../src/core/errors.ts';
import type { EventLog } from '../../src/core/event-log.ts';
import { splitSecret } from '../../src/crypto/shamir-shares.ts';
import { Keyring } from '../../src/services/keyring.ts';
import { SealService, type SealRecord } from '../../src/services/seal-service.ts';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.ts';
import { makeFixture } from '../helpers/fixture.ts';
import { loadConfig } from '../../src/services/config-loader.ts';
import { openEnclave } from '../../src/services/enclave.ts';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';

async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof EnclaveError, inspect(err));
    assert.equal(err.code, code, err.message);
    return true;
  });
}

/** A seal service on its own in-memory control store, initialized with the given officers. */
async function standalone(officers = ['alice', 'bob', 'carol'], threshold = 2) {
  const store = new SqliteStore({ path: ':memory:' });
  const keyring = new Keyring();
  const seal = new SealService(store.meta, keyring);
  await seal.load();
  const shares = await seal.initialize(officers, threshold);
  return { store, keyring, seal, shares: shares.map((s) => s.share), named: shares };
}

void describe('checking shares without unsealing', () => {
  void it('says when the shares entered make a set that reconstructs the root key, and loads, logs and hands on nothing', async () => {
    const { seal, keyring, shares } = await standalone(['alice', 'bob', 'carol'], 2);
    const [a, b, c] = shares;
    assert.ok(a && b && c);
    assert.equal(await seal.check(a), false);
    await rejectsWith(seal.check(a), 'duplicate_share');
    await rejectsWith(seal.check('not-a-share'), 'invalid_share');
    assert.equal(await seal.check(c), true);
    assert.equal(keyring.sealed, true, 'a checked set is not loaded');
    assert.deepEqual(seal.status().sealed, true);
    assert.equal(seal.status().progress, 0, 'a complete set is not kept');
    // The shares still unseal afterwards, through submit.
    await seal.submit(b);
    await seal.submit(a);
    assert.equal(keyring.sealed, false);
  });

  void it('logs nothing, where submit logs the unseal', async () => {
    const types: string[] = [];
    const store = new SqliteStore({ path: ':memory:' });
    const log: EventLog = {
      append: async (e) => {
        types.push(e.type);
        return Promise.resolve({ index: types.length - 1 });
      },
    };
    const seal = new SealService(store.meta, new Keyring(), { log });
    await seal.load();
    const shares = (await seal.initialize(['alice', 'bob', 'carol'], 2)).map((s) => s.share);
    types.length = 0;
    for (const s of shares.slice(0, 2)) await seal.check(s);
    assert.deepEqual(types, []);
    for (const s of shares.slice(0, 2)) await seal.submit(s);
    assert.deepEqual(types, ['enclave.unsealed']);
    await store.close();
  });
});

void describe('the seal section after init', () => {
  void it('changes only by a rekey: an enclave whose configuration names another threshold or other officers refuses to open, and says to rekey (their order is free)', async () => {
    const fx = await makeFixture({ sealed: true });
    await fx.enclave.close();
    try {
      const original = readFileSync(fx.configPath, 'utf8');
      const section = /^seal:\n {2}threshold: (\d+)\n {2}officers: \[([^\]]*)\]$/m.exec(original);
      assert.ok(section, 'the starter configuration has a seal section');
      const officers = section[2] ?? '';
      for (const edited of [`seal:\n  threshold: 3\n  officers: [${officers}]`, `seal:\n  threshold: ${section[1] ?? ''}\n  officers: [${officers}, dave]`]) {
        writeFileSync(fx.configPath, original.replace(section[0], edited));
        await assert.rejects(openEnclave(loadConfig(fx.configPath)), (err: unknown) => err instanceof EnclaveError && err.code === 'invalid_config' && /the shares handed out are for 2 of .*run `enclave rekey`/.test(err.message), edited);
      }
      // The same officers in another order: the same split.
      writeFileSync(fx.configPath, original.replace(section[0], `seal:\n  threshold: ${section[1] ?? ''}\n  officers: [${officers.split(', ').reverse().join(', ')}]`));
      await (await openEnclave(loadConfig(fx.configPath))).close();
    } finally {
      rmSync(fx.dir, { recursive: true, force: true });
    }
  });
});

void describe('seal service', () => {
  void it('reports its status and progress while shares are entered, and unseals at the threshold', async () => {
    const fx = await makeFixture({ sealed: true });
    try {
      const { seal } = fx.enclave;
      assert.deepEqual(seal.status(), { initialized: true, sealed: true, threshold: 2, shares: 3, progress: 0, entered: [], configuration_changed: [] });
      const [alice, bob] = fx.shares;
      assert.ok(alice && bob);
      assert.deepEqual(await seal.submit(alice), { initialized: true, sealed: true, threshold: 2, shares: 3, progress: 1, entered: ['alice'], configuration_changed: [] });
      assert.equal(fx.enclave.keyring.sealed, true, 'one share alone never unseals');
      const done = await seal.submit(bob);
      assert.deepEqual(done, { initialized: true, sealed: false, threshold: 2, shares: 3, progress: 0, entered: [], configuration_changed: [] });
      assert.equal(fx.enclave.keyring.sealed, false);
      // A share entered while unsealed changes nothing.
      assert.equal((await seal.submit(alice)).sealed, false);
    } finally {
      await fx.close();
    }
  });

  void it('refuses a well-formed share that is not one of this enclave\'s (invalid_share), keeping progress', async () => {
    const { seal, shares, store } = await standalone();
    const [foreign] = await splitSecret(randomBytes(32), 3, 2);
    assert.ok(foreign);
    await rejectsWith(seal.submit(foreign), 'invalid_share');
    assert.equal(seal.status().progress, 0);
    await seal.submit(shares[0] ?? '');
    await rejectsWith(seal.submit(foreign), 'invalid_share');
    assert.deepEqual([seal.status().progress, seal.status().sealed], [1, true]);
    await seal.submit(shares[1] ?? '');
    assert.equal(seal.status().sealed, false);
    // Unsealed, a wrong share is still refused, and a right one changes nothing.
    await rejectsWith(seal.submit(foreign), 'invalid_share');
    await rejectsWith(seal.submit('garbage'), 'invalid_share');
    await seal.submit(shares[2] ?? '');
    assert.equal(seal.status().sealed, false);
    await store.close();
  });

  void it('refuses malformed share text with invalid_share', async () => {
    const { seal, store } = await standalone();
    for (const bad of ['', 'hunter2', 'enclave-share-v1-', 'enclave-share-v1-!!!!', `enclave-share-v1-${Buffer.alloc(40).toString('base64url')}`]) {
      await rejectsWith(seal.submit(bad), 'invalid_share');
    }
    assert.equal(seal.status().progress, 0);
    await store.close();
  });

  void it('refuses the same share twice (duplicate_share), even with surrounding whitespace', async () => {
    const { seal, shares, store } = await standalone(['alice', 'bob', 'carol', 'dave'], 3);
    const [a, b, c] = shares;
    assert.ok(a && b && c);
    await seal.submit(a);
    await rejectsWith(seal.submit(a), 'duplicate_share');
    await rejectsWith(seal.submit(`  ${a}\n`), 'duplicate_share');
    await seal.submit(b);
    assert.deepEqual(seal.status().entered, ['alice', 'bob']);
    assert.equal(seal.status().sealed, true);
    await seal.submit(c);
    assert.equal(seal.status().sealed, false);
    await store.close();
  });

  void it('any k of the n shares unseal, and reset abandons a partial attempt', async () => {
    const { seal, shares, keyring, store } = await standalone(['a1', 'b1', 'c1', 'd1'], 3);
    const triples = [[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3], [3, 1, 0]];
    let wrapped: Uint8Array | undefined;
    for (const t of triples) {
      seal.seal();
      assert.equal(keyring.sealed, true);
      await seal.submit(shares[t[0] ?? 0] ?? '');
      seal.reset();
      assert.equal(seal.status().progress, 0);
      for (const i of t) await seal.submit(shares[i] ?? '');
      assert.equal(seal.status().sealed, false, `shares ${t.join(',')}`);
      // The same root each time: a key wrapped under one unseal unwraps under the next.
      if (wrapped === undefined) wrapped = keyring.newSubjectKey('trusted-us', 's1').wrapped;
      // The seal at the top of the loop emptied the data-key cache: this is a real unwrap.
      else assert.doesNotThrow(() => keyring.unwrap('trusted-us', 's1', wrapped ?? new Uint8Array()));
    }
    await store.close();
  });

  void it('never unseals with a reconstruction that fails the root check (unseal_failed), and starts over', async () => {
    const { store, shares } = await standalone();
    const raw = await store.meta.get('seal');
    assert.ok(raw);
    const record = JSON.parse(raw) as SealRecord;
    await store.meta.put('seal', JSON.stringify({ ...record, rootCheck: '00'.repeat(32) }));
    const keyring = new Keyring();
    const seal = new SealService(store.meta, keyring);
    await seal.load();
    await seal.submit(shares[0] ?? '');
    await rejectsWith(seal.submit(shares[1] ?? ''), 'unseal_failed');
    assert.equal(keyring.sealed, true);
    assert.deepEqual([seal.status().sealed, seal.status().progress], [true, 0]);
    await store.close();
  });

  void it('sealing drops the keys: protected data is refused until unsealed again', async () => {
    const { seal, keyring, store, shares } = await standalone();
    await seal.submit(shares[0] ?? '');
    await seal.submit(shares[2] ?? '');
    const { wrapped } = keyring.newSubjectKey('trusted-us', 's1');
    assert.equal(seal.seal().sealed, true);
    assert.throws(() => keyring.unwrap('trusted-us', 's1', wrapped), (err: unknown) => err instanceof EnclaveError && err.code === 'sealed');
    assert.throws(() => keyring.newSubjectKey('trusted-us', 's2'), (err: unknown) => err instanceof EnclaveError && err.code === 'sealed');
    await store.close();
  });

  void it('keeps no root key and no share in the seal record, only fingerprints and a check value', async () => {
    const { store, shares, named } = await standalone();
    const raw = (await store.meta.get('seal')) ?? '';
    const record = JSON.parse(raw) as SealRecord;
    assert.deepEqual(record.officers.map((o) => o.name), named.map((n) => n.officer));
    for (const s of shares) assert.ok(!raw.includes(s.slice('enclave-share-v1-'.length, 40)), 'no share text');
    assert.match(record.rootCheck, /^[0-9a-f]{64}$/);
    await store.close();
  });

  void it('initializes once; a second initialization or a bad threshold is refused', async () => {
    const { seal, store } = await standalone();
    await rejectsWith(seal.initialize(['x', 'y'], 2), 'already_initialized');
    const empty = new SqliteStore({ path: ':memory:' });
    const fresh = new SealService(empty.meta, new Keyring());
    await fresh.load();
    await rejectsWith(fresh.submit('enclave-share-v1-x'), 'not_initialized');
    await rejectsWith(fresh.initialize(['x', 'y'], 1), 'invalid_config');
    await rejectsWith(fresh.initialize(['x', 'y'], 3), 'invalid_config');
    assert.equal(fresh.status().initialized, false);
    // A reloaded service sees the existing record.
    const reloaded = new SealService(store.meta, new Keyring());
    await reloaded.load();
    assert.deepEqual([reloaded.status().initialized, reloaded.status().threshold, reloaded.status().shares], [true, 2, 3]);
    await store.close();
    await empty.close();
  });
});

void describe('sealing while an unseal is under way', () => {
  void it('a seal given while the last share is being combined wins: the enclave stays sealed and that unseal is refused (sealed)', async () => {
    const { seal, keyring, shares, store } = await standalone();
    await seal.submit(shares[0] ?? '');
    const last = seal.submit(shares[1] ?? '');
    assert.equal(seal.seal().sealed, true);
    await rejectsWith(last, 'sealed');
    assert.equal(keyring.sealed, true, 'sealed after the seal was acknowledged');
    assert.deepEqual([seal.status().sealed, seal.status().progress], [true, 0]);
    // The officers can unseal again afterwards.
    for (const s of shares.slice(0, 2)) await seal.submit(s);
    assert.equal(keyring.sealed, false);
    await store.close();
  });

  void it('a seal given while the key holders are being unsealed leaves none of them holding a key, and logs no unseal after it', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    const keyring = new Keyring();
    let release = () => {};
    let holding = false;
    let called = false;
    const holder = {
      unsealed: async () => {
        called = true;
        await new Promise<void>((resolve) => (release = resolve));
        holding = true;
      },
      sealedNow: () => {
        holding = false;
      },
    };
    const types: string[] = [];
    const log: EventLog = { append: async (e) => Promise.resolve({ index: types.push(e.type) - 1 }) };
    const seal = new SealService(store.meta, keyring, { holders: [holder], log });
    await seal.load();
    const shares = (await seal.initialize(['alice', 'bob', 'carol'], 2)).map((s) => s.share);
    types.length = 0;
    await seal.submit(shares[0] ?? '');
    const last = seal.submit(shares[1] ?? '');
    // The unseal is under way: its holder is taking the keys (the keyring is opened last).
    while (!called) await new Promise((resolve) => setImmediate(resolve));
    seal.seal();
    release();
    await rejectsWith(last, 'sealed');
    assert.deepEqual([keyring.sealed, holding], [true, false]);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(types, ['enclave.sealed']);
    await store.close();
  });

  void it('a share entered while another completes the set is not left as progress of the unsealed enclave', async () => {
    const { seal, shares, store } = await standalone();
    await seal.submit(shares[0] ?? '');
    const [done] = await Promise.all([seal.submit(shares[1] ?? ''), seal.submit(shares[2] ?? '')]);
    assert.equal(done.sealed, false);
    assert.deepEqual([seal.status().progress, seal.status().entered], [0, []]);
    await store.close();
  });
});
