// An unseal refused because a seal came while it was under way must undo only what is its own: by the
// time it finds out, the officers may have entered their shares again and a later unseal may hold the
// keys (or be taking them), and shares may have been entered toward the next attempt.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { EnclaveError } from '../../src/core/errors.ts';
import type { EventLog } from '../../src/core/event-log.ts';
import { Keyring } from '../../src/services/keyring.ts';
import { SealService } from '../../src/services/seal-service.ts';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.ts';

/** A promise and the function that resolves it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !done(); i++) await turn();
  assert.ok(done(), 'the awaited step never came');
}

function isSealedError(err: unknown): boolean {
  assert.ok(err instanceof EnclaveError, inspect(err));
  assert.equal(err.code, 'sealed', err.message);
  return true;
}

/**
 * A seal service whose holder and log can be stopped: the nth holder call and the nth enclave.unsealed
 * append wait for the gate the test gives them.
 */
async function controlled() {
  const store = new SqliteStore({ path: ':memory:' });
  const keyring = new Keyring();
  const holderGates = new Map<number, Promise<void>>();
  const appendGates = new Map<number, Promise<void>>();
  let holderCalls = 0;
  let unsealedAppends = 0;
  const holder = {
    /** A copy of the root key, as the log keeps keys derived from it. */
    key: null as Buffer | null,
    async unsealed(root: Uint8Array) {
      const copy = Buffer.from(root);
      const wait = holderGates.get(++holderCalls);
      if (wait) await wait;
      holder.key = copy;
    },
    sealedNow() {
      holder.key?.fill(0);
      holder.key = null;
    },
  };
  const log: EventLog = {
    append: async (e) => {
      if (e.type === 'enclave.unsealed') {
        const wait = appendGates.get(++unsealedAppends);
        if (wait) await wait;
      }
      return { index: 0 };
    },
  };
  const seal = new SealService(store.meta, keyring, { holders: [holder], log });
  await seal.load();
  const shares = (await seal.initialize(['alice', 'bob', 'carol'], 2)).map((s) => s.share);
  return {
    store,
    keyring,
    holder,
    seal,
    shares,
    holderGates,
    appendGates,
    counts: () => ({ holderCalls, unsealedAppends }),
  };
}

/**
 * Starts an unseal with shares `a` and `b` whose enclave.unsealed entry is held (the holder already has
 * its keys), seals meanwhile, and returns the refusal the unseal will meet and the gate that lets it go.
 */
async function unsealRefusedBySeal(c: Awaited<ReturnType<typeof controlled>>, a: string, b: string): Promise<{ first: Promise<boolean>; firstAppend: ReturnType<typeof gate> }> {
  const firstAppend = gate();
  c.appendGates.set(1, firstAppend.promise);
  await c.seal.submit(a);
  const first = c.seal.submit(b).then(
    () => assert.fail('the first unseal completed although a seal was given while it ran'),
    (err: unknown) => isSealedError(err),
  );
  await until(() => c.counts().unsealedAppends === 1);
  c.seal.seal();
  return { first, firstAppend };
}

void describe('an unseal refused by a seal given meanwhile, after the officers unsealed again', () => {
  void it('leaves the later unseal standing: the keyring is loaded and every holder has its key, or nothing holds a key', async () => {
    const c = await controlled();
    const [a, b] = c.shares;
    assert.ok(a && b);
    // First unseal: its holder takes the keys, then its enclave.unsealed entry is slow to become durable,
    // and an officer seals meanwhile; the officers unseal again, and that unseal's holder is slow in turn.
    const { first, firstAppend } = await unsealRefusedBySeal(c, a, b);
    assert.deepEqual([c.keyring.sealed, c.holder.key], [true, null]);
    const secondHolder = gate();
    c.holderGates.set(2, secondHolder.promise);
    await c.seal.submit(a);
    const second = c.seal.submit(b);
    await until(() => c.counts().holderCalls === 2);
    // The first unseal now learns of the seal and is refused.
    firstAppend.open();
    await first;
    // The second unseal finishes.
    secondHolder.open();
    const status = await second;
    // Either state is coherent; a keyring sealed while the holder keeps a key derived from the root is not.
    const holderHasKey = c.holder.key !== null;
    assert.equal(holderHasKey, !c.keyring.sealed, `keyring sealed: ${String(c.keyring.sealed)}, holder has a key: ${String(holderHasKey)}`);
    // The later unseal was given the whole set and logged as done: the enclave is unsealed.
    assert.equal(status.sealed, false, 'the second unseal answered sealed after logging enclave.unsealed');
    assert.equal(c.keyring.sealed, false);
    await c.store.close();
  });

  void it('keeps the shares entered since the seal as the next attempt\'s progress', async () => {
    const c = await controlled();
    const [a, b, d] = c.shares;
    assert.ok(a && b && d);
    const { first, firstAppend } = await unsealRefusedBySeal(c, a, b);
    // Alice enters her share again toward the next unseal.
    assert.deepEqual((await c.seal.submit(a)).entered, ['alice']);
    firstAppend.open();
    await first;
    assert.deepEqual([c.keyring.sealed, c.holder.key], [true, null]);
    assert.deepEqual(c.seal.status().entered, ['alice'], 'the refused unseal threw away a share entered after the seal');
    // And Carol's completes that attempt.
    assert.equal((await c.seal.submit(d)).sealed, false);
    await c.store.close();
  });
});
