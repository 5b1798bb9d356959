// Rekey: k officers' current shares replace every share (other officers, another threshold, or fresh
// shares for the same ones). The root key, the data and the log's keys stay; the previous shares stop
// unsealing, also on a server that was running during the rekey; a rekey that is refused, stopped before
// it completes, overtaken by another, or not logged changes nothing.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { EnclaveError, type ErrorCode } from '../../src/core/errors.ts';
import type { EventLog, LogEventInput } from '../../src/core/event-log.ts';
import { rootCheck } from '../../src/crypto/key-derivation.ts';
import { splitSecret, shareFingerprint } from '../../src/crypto/shamir-shares.ts';
import { Keyring } from '../../src/services/keyring.ts';
import type { MetaStore } from '../../src/core/store.ts';
import { SealService, type OfficerShare, type SealRecord, type SealSplit } from '../../src/services/seal-service.ts';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.ts';
import { makeFixture } from '../helpers/fixture.ts';
import { openEnclave } from '../../src/services/enclave.ts';
import { loadConfig } from '../../src/services/config-loader.ts';

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof EnclaveError, inspect(err));
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

/** A log that records what it is given, and refuses while `failing` is set. */
function recordingLog(): EventLog & { entries: LogEventInput[]; failing: boolean } {
  const log = {
    entries: [] as LogEventInput[],
    failing: false,
    append(e: LogEventInput) {
      if (log.failing) return Promise.reject(new EnclaveError('log_unavailable', 'test: the log is down'));
      log.entries.push(e);
      return Promise.resolve({ index: log.entries.length - 1 });
    },
  };
  return log;
}

/** One control store, with a seal service for the rekey and another standing for a server that runs throughout. */
async function enclaveOf(officers = ['alice', 'bob', 'carol'], threshold = 2) {
  const store = new SqliteStore({ path: ':memory:' });
  const log = recordingLog();
  const admin = new SealService(store.meta, new Keyring(1), { log });
  await admin.load();
  const initial = await admin.initialize(officers, threshold);
  const serverKeyring = new Keyring();
  const server = new SealService(store.meta, serverKeyring);
  await server.load();
  const shares = initial.map((s) => s.share);
  const [a = '', b = '', c = ''] = shares;
  // The first three officers' shares, named: most cases enter two or three of them.
  return { store, log, admin, server, serverKeyring, initial: shares, a, b, c };
}

const shareOf = (shares: readonly OfficerShare[], officer: string) => shares.find((s) => s.officer === officer)?.share ?? assert.fail(`no share for ${officer}`);

/**
 * A rekey in its own process killed right after its new seal record took effect, before it logged:
 * the control store's compare-and-set of the record succeeds, and nothing of the process runs after it.
 */
async function rekeyKilledAfterReplace(meta: MetaStore, log: EventLog, given: readonly string[], target: SealSplit, handOut: () => Promise<void> = () => Promise.resolve()): Promise<{ shares: readonly OfficerShare[]; rekeyedAt: string }> {
  const dying: MetaStore = {
    get: (key) => meta.get(key),
    putIfAbsent: (key, value) => meta.putIfAbsent(key, value),
    put: (key, value) => meta.put(key, value),
    async replace(key, expected, value) {
      const wrote = await meta.replace(key, expected, value);
      if (key === 'seal' && wrote) await new Promise<never>(() => {});
      return wrote;
    },
  };
  const admin = new SealService(dying, new Keyring(1), { log });
  await admin.load();
  let shares: readonly OfficerShare[] = [];
  // Never settles once killed; a refusal before the record is replaced fails the wait below.
  admin.rekey(given, target, async (s) => {
    shares = s;
    await handOut();
  }).catch(() => {});
  // The process is gone once the record is replaced: wait for that.
  const before = await meta.get('seal');
  for (let i = 0; i < 2500 && (await meta.get('seal')) === before; i++) await new Promise((r) => setTimeout(r, 2));
  const record = JSON.parse((await meta.get('seal')) ?? '{}') as { rekeyedAt?: string };
  assert.ok(record.rekeyedAt, 'the new record took effect');
  return { shares, rekeyedAt: record.rekeyedAt };
}

/** A point a test holds a process at: `opened` resolves once `open` is called. */
function gate(): { open: () => void; opened: Promise<void> } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

/** A log whose appends wait at `held` (and signal `reached` first), then fail or go to `to`. */
function heldLog(held: Promise<void>, reached: () => void, to?: EventLog): EventLog {
  return {
    async append(e) {
      reached();
      await held;
      if (!to) throw new EnclaveError('log_unavailable', 'test: the log went away');
      return to.append(e);
    },
  };
}

/** The control store as a process sees it whose compare-and-sets wait at `held`. */
function heldReplaces(meta: MetaStore, held: Promise<void>): MetaStore {
  return {
    get: (key) => meta.get(key),
    putIfAbsent: (key, value) => meta.putIfAbsent(key, value),
    put: (key, value) => meta.put(key, value),
    async replace(key, expected, value) {
      await held;
      return meta.replace(key, expected, value);
    },
  };
}

/** A rekey whose own append waits until `appendFails` opens, then fails: started, and its new record in force. */
async function rekeyWithFailingAppend(meta: MetaStore, given: readonly string[], target: SealSplit) {
  const appendFails = gate();
  const appending = gate();
  const admin = new SealService(meta, new Keyring(1), { log: heldLog(appendFails.opened, appending.open) });
  await admin.load();
  let shares: readonly OfficerShare[] = [];
  const rekeying = admin.rekey(given, target, (s) => {
    shares = s;
  });
  // Observed before the test acts on it, whatever the test then expects of it.
  rekeying.catch(() => {});
  await appending.opened;
  return { rekeying, appendFails, shares };
}

async function unsealWith(seal: SealService, shares: readonly string[]): Promise<void> {
  for (const s of shares) await seal.submit(s);
}

void describe('enclave rekey (seal service)', () => {
  void it('hands out new shares for the new split; a server running throughout refuses the previous ones and unseals with k new ones to the same root key', async () => {
    const { store, log, admin, server, serverKeyring, a, b } = await enclaveOf();
    // The server unseals with the initial shares, so its root key can be compared after.
    await unsealWith(server, [a, b]);
    const before = serverKeyring.derive('test');
    server.seal();
    let handed: readonly OfficerShare[] = [];
    const result = await admin.rekey([b, a], { threshold: 3, officers: ['alice', 'dave', 'erin', 'frank'] }, (shares) => {
      handed = shares;
    });
    assert.deepEqual(handed.map((s) => s.officer), ['alice', 'dave', 'erin', 'frank']);
    assert.deepEqual(result.shares, handed);
    assert.deepEqual(result.previous, { threshold: 2, officers: ['alice', 'bob', 'carol'] });
    assert.equal(result.previousWereRootShares, false);
    // The previous shares: refused, saying why.
    await rejectsWith(server.submit(a), 'invalid_share', /replaced by `enclave rekey`/);
    // The status the server serves is the new split's.
    assert.deepEqual([(await server.currentStatus()).threshold, (await server.currentStatus()).shares], [3, 4]);
    // Two new shares are not enough any more; three are.
    await server.submit(shareOf(handed, 'dave'));
    await server.submit(shareOf(handed, 'alice'));
    assert.equal(serverKeyring.sealed, true);
    await server.submit(shareOf(handed, 'frank'));
    assert.equal(serverKeyring.sealed, false);
    assert.deepEqual(serverKeyring.derive('test'), before, 'the same root key');
    // Logged, naming both splits and who entered shares; nothing of a share or key.
    const entry = log.entries.find((e) => e.type === 'key.rekeyed');
    assert.ok(entry);
    const stored = (await store.meta.get('seal')) ?? '';
    const record = JSON.parse(stored) as { rekeyedAt?: string; pendingLog?: unknown };
    // It names the new split, by an id unseals name too.
    const split = entry.details['split'];
    assert.ok(typeof split === 'string' && /^[0-9a-f]{32}$/.test(split), String(typeof split));
    assert.deepEqual(entry.details, { key: 'root', threshold: 3, officers: ['alice', 'dave', 'erin', 'frank'], previous: { threshold: 2, officers: ['alice', 'bob', 'carol'] }, officers_entered: ['bob', 'alice'], split, rekeyed_at: record.rekeyedAt });
    assert.notEqual(log.entries.find((e) => e.type === 'key.created')?.details['split'], split, 'another split than init\'s');
    assert.equal(record.pendingLog, undefined, 'logged: the record holds no entry to log any more');
    for (const s of [...handed.map((h) => h.share), a, b]) assert.ok(!stored.includes(s.slice('enclave-share-v1-'.length)), 'no share in the record');
    await store.close();
  });

  void it('the same officers get fresh shares: the exposed one stops working, the others are replaced too', async () => {
    const { store, server, admin, a, b, c } = await enclaveOf();
    const { shares } = await admin.rekey([a, c], { threshold: 2, officers: ['alice', 'bob', 'carol'] }, () => {});
    for (const old of [a, b, c]) await rejectsWith(server.submit(old), 'invalid_share');
    assert.notEqual(shareOf(shares, 'bob'), b);
    await unsealWith(server, [shareOf(shares, 'bob'), shareOf(shares, 'carol')]);
    assert.equal(server.status().sealed, false);
    await store.close();
  });

  void it('refuses too few, unknown or repeated shares, and a split the two-person rule forbids, changing nothing and handing out nothing', async () => {
    const { store, server, admin, a, b, c } = await enclaveOf(['alice', 'bob', 'carol'], 3);
    const before = await store.meta.get('seal');
    const other = await enclaveOf(['alice', 'bob', 'carol'], 3);
    let called = false;
    const handOut = () => {
      called = true;
    };
    const target = { threshold: 2, officers: ['alice', 'bob'] };
    await rejectsWith(admin.rekey([a, b], target, handOut), 'unseal_failed', /needs 3 shares/);
    await rejectsWith(admin.rekey([a, b, other.initial[2] ?? ''], target, handOut), 'invalid_share');
    await rejectsWith(admin.rekey([a, b, b], target, handOut), 'duplicate_share');
    await rejectsWith(admin.rekey([a, b, 'enclave-share-v1-x'], target, handOut), 'invalid_share');
    await rejectsWith(admin.rekey([a, b, c], { threshold: 1, officers: ['alice', 'bob'] }, handOut), 'invalid_config');
    await rejectsWith(admin.rekey([a, b, c], { threshold: 3, officers: ['alice', 'bob'] }, handOut), 'invalid_config');
    await rejectsWith(admin.rekey([a, b, c], { threshold: 2, officers: ['alice', 'alice'] }, handOut), 'invalid_config');
    assert.equal(called, false);
    assert.equal(await store.meta.get('seal'), before);
    await unsealWith(server, [a, b, c]);
    assert.equal(server.status().sealed, false);
    await store.close();
    await other.store.close();
  });

  void it('stopped after handing out the shares, before they took effect: the previous shares still unseal, and a new one is refused as from a rekey that did not complete', async () => {
    const { store, server, admin, a, b } = await enclaveOf();
    let handed: readonly OfficerShare[] = [];
    await assert.rejects(
      admin.rekey([a, b], { threshold: 2, officers: ['alice', 'bob', 'carol'] }, (shares) => {
        handed = shares;
        throw new Error('the terminal went away');
      }),
      /the terminal went away/,
    );
    await rejectsWith(server.submit(shareOf(handed, 'alice')), 'invalid_share', /did not complete: the shares from before it still unseal/);
    await unsealWith(server, [a, b]);
    assert.equal(server.status().sealed, false);
    await store.close();
  });

  void it('fails closed when the log cannot record it: undone, the previous shares unseal, the new ones are void', async () => {
    const { store, log, server, admin, a, b } = await enclaveOf();
    log.failing = true;
    let handed: readonly OfficerShare[] = [];
    await rejectsWith(
      admin.rekey([a, b], { threshold: 2, officers: ['alice', 'bob', 'carol'] }, (shares) => {
        handed = shares;
      }),
      'log_unavailable',
      /undone: the previous shares still unseal/,
    );
    assert.equal(handed.length, 3);
    await rejectsWith(server.submit(shareOf(handed, 'carol')), 'invalid_share');
    await unsealWith(server, [a, b]);
    assert.equal(server.status().sealed, false);
    assert.equal(log.entries.filter((e) => e.type === 'key.rekeyed').length, 0);
    await store.close();
  });

  void it('killed after the new shares took effect, before key.rekeyed was appended: the next unseal appends it, late, once, and refuses to unseal while it cannot', async () => {
    const { store, log, admin, a, b } = await enclaveOf();
    const killed = await rekeyKilledAfterReplace(store.meta, log, [a, b], { threshold: 2, officers: ['alice', 'bob', 'dave'] });
    assert.equal(log.entries.filter((e) => e.type === 'key.rekeyed').length, 0, 'the rekey\'s process died before it logged');
    // The next process to unseal (a server starting) has the log: while it fails, no unseal.
    const next = new SealService(store.meta, new Keyring(), { log });
    await next.load();
    log.failing = true;
    await next.submit(shareOf(killed.shares, 'alice'));
    await rejectsWith(next.submit(shareOf(killed.shares, 'dave')), 'log_unavailable');
    assert.equal(next.status().sealed, true);
    log.failing = false;
    await unsealWith(next, [shareOf(killed.shares, 'alice'), shareOf(killed.shares, 'dave')]);
    assert.equal(next.status().sealed, false);
    const types = log.entries.map((e) => e.type);
    assert.deepEqual(types.slice(types.indexOf('key.rekeyed')), ['key.rekeyed', 'enclave.unsealed'], 'logged before the unseal');
    const entry = log.entries.find((e) => e.type === 'key.rekeyed');
    assert.deepEqual(entry?.details, {
      key: 'root',
      threshold: 2,
      officers: ['alice', 'bob', 'dave'],
      previous: { threshold: 2, officers: ['alice', 'bob', 'carol'] },
      officers_entered: ['alice', 'bob'],
      split: log.entries.findLast((e) => e.type === 'enclave.unsealed')?.details['split'],
      late: true,
      rekeyed_at: killed.rekeyedAt,
    });
    // Once: neither the next unseal nor a rekey appends it again.
    next.seal();
    await unsealWith(next, [shareOf(killed.shares, 'bob'), shareOf(killed.shares, 'dave')]);
    await admin.rekey([shareOf(killed.shares, 'bob'), shareOf(killed.shares, 'dave')], { threshold: 2, officers: ['alice', 'bob', 'dave'] }, () => {});
    assert.deepEqual(log.entries.filter((e) => e.type === 'key.rekeyed').map((e) => e.details['late'] ?? false), [true, false]);
    await store.close();
  });

  void it('killed likewise, then rekeyed again before any unseal: the killed rekey is logged, late, before the next one', async () => {
    const { store, log, admin, a, b } = await enclaveOf();
    const killed = await rekeyKilledAfterReplace(store.meta, log, [a, b], { threshold: 2, officers: ['alice', 'bob', 'carol'] });
    await admin.rekey([shareOf(killed.shares, 'carol'), shareOf(killed.shares, 'bob')], { threshold: 2, officers: ['bob', 'carol'] }, () => {});
    const rekeys = log.entries.filter((e) => e.type === 'key.rekeyed');
    assert.deepEqual(rekeys.map((e) => [e.details['late'] ?? false, e.details['officers_entered']]), [
      [true, ['alice', 'bob']],
      [false, ['carol', 'bob']],
    ]);
    await store.close();
  });

  void it('killed while another rekey, started meanwhile, waited on its officers: the one in force is logged late, the other refused', async () => {
    const { store, log, a, b, c } = await enclaveOf();
    // A hands out its shares and waits; B starts, hands out its own and waits; then A's shares take
    // effect and its process dies; then B's would, and is refused.
    const aHandedOut = gate();
    const aGoesOn = gate();
    const killing = rekeyKilledAfterReplace(store.meta, log, [a, b], { threshold: 2, officers: ['alice', 'bob', 'mallory'] }, async () => {
      aHandedOut.open();
      await aGoesOn.opened;
    });
    await aHandedOut.opened;
    const second = new SealService(store.meta, new Keyring(1), { log });
    await second.load();
    const bHandedOut = gate();
    const bGoesOn = gate();
    const late = second.rekey([b, c], { threshold: 2, officers: ['bob', 'carol'] }, async () => {
      bHandedOut.open();
      await bGoesOn.opened;
    });
    await bHandedOut.opened;
    aGoesOn.open();
    const killed = await killing;
    bGoesOn.open();
    await rejectsWith(late, 'rekey_conflict');
    const next = new SealService(store.meta, new Keyring(), { log });
    await next.load();
    await unsealWith(next, [shareOf(killed.shares, 'mallory'), shareOf(killed.shares, 'bob')]);
    const rekeys = log.entries.filter((e) => e.type === 'key.rekeyed');
    assert.deepEqual(rekeys.map((e) => [e.details['officers'], e.details['late'], e.details['rekeyed_at']]), [[['alice', 'bob', 'mallory'], true, killed.rekeyedAt]]);
    await store.close();
  });

  void it('an entry written into the seal record by anyone but a rekey (no root key) is never logged: the unseal is refused as an altered record', async () => {
    const { store, log, admin, a, b } = await enclaveOf();
    const { shares } = await admin.rekey([a, b], { threshold: 2, officers: ['alice', 'bob', 'carol'] }, () => {});
    const record = JSON.parse((await store.meta.get('seal')) ?? '{}') as Record<string, unknown>;
    // A writer of the control store (the parent company's database operator) adds an entry of its own,
    // with a MAC it made up; and a marker of the kind the build before logged from.
    const forged = { details: { key: 'root', threshold: 3, officers: ['mallory', 'eve', 'trent'], previous: { threshold: 2, officers: ['alice', 'bob', 'carol'] }, officers_entered: ['carol'] }, mac: 'A'.repeat(43) };
    // Beside the receipt that the rekey was logged: refused as it is read.
    await store.meta.put('seal', JSON.stringify({ ...record, pendingLog: forged }));
    await rejectsWith(new SealService(store.meta, new Keyring(), { log }).load(), 'integrity_error', /both a rekey entry for the log and the receipt/);
    // In its place: refused when the shares give the root key to check it.
    const { loggedMac, ...unlogged } = record;
    assert.equal(typeof loggedMac, 'string', 'a logged rekey leaves its receipt');
    await store.meta.put('seal', JSON.stringify({ ...unlogged, pendingLog: forged }));
    const logged = log.entries.length;
    const next = new SealService(store.meta, new Keyring(), { log });
    await next.load();
    await next.submit(shareOf(shares, 'alice'));
    await rejectsWith(next.submit(shareOf(shares, 'carol')), 'integrity_error', /rekey entry it holds for the log was not written by a rekey of this enclave/);
    assert.equal(next.status().sealed, true);
    assert.equal(log.entries.length, logged, 'nothing logged');
    // A rekey is refused by it too, before it replaces anything.
    await rejectsWith(admin.rekey([shareOf(shares, 'alice'), shareOf(shares, 'bob')], { threshold: 2, officers: ['alice', 'bob'] }, () => {}), 'integrity_error');
    // The entry of a real rekey moved onto another record (here: another time) is refused the same way.
    await store.meta.put('seal', JSON.stringify(record));
    const { shares: third } = await rekeyKilledAfterReplace(store.meta, log, [shareOf(shares, 'alice'), shareOf(shares, 'bob')], { threshold: 2, officers: ['alice', 'bob', 'carol'] });
    const real = JSON.parse((await store.meta.get('seal')) ?? '{}') as { pendingLog: unknown; rekeyedAt: string };
    assert.ok(real.pendingLog, 'killed before it logged: the entry is in the record');
    await store.meta.put('seal', JSON.stringify({ ...real, rekeyedAt: '2020-01-01T00:00:00.000Z' }));
    const again = new SealService(store.meta, new Keyring(), { log });
    await again.load();
    await again.submit(shareOf(third, 'alice'));
    await rejectsWith(again.submit(shareOf(third, 'bob')), 'integrity_error');
    assert.equal(log.entries.filter((e) => e.type === 'key.rekeyed').length, 1, 'only the first, real rekey');
    await store.close();
  });

  void it('an unseal with the new shares logs the rekey while its own entry waits: the rekey, whose append then fails, is not undone and completes', async () => {
    const { store, log, a, b } = await enclaveOf();
    // The rekey's log holds its append until released, then fails it.
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let appending = () => {};
    const waiting = new Promise<void>((resolve) => (appending = resolve));
    const slow: EventLog = {
      async append() {
        appending();
        await held;
        throw new EnclaveError('log_unavailable', 'test: the log went away');
      },
    };
    const admin = new SealService(store.meta, new Keyring(1), { log: slow });
    await admin.load();
    let handed: readonly OfficerShare[] = [];
    const rekeying = admin.rekey([a, b], { threshold: 2, officers: ['alice', 'bob', 'carol'] }, (shares) => {
      handed = shares;
    });
    await waiting;
    const server = new SealService(store.meta, new Keyring(), { log });
    await server.load();
    await unsealWith(server, [shareOf(handed, 'carol'), shareOf(handed, 'alice')]);
    assert.equal(server.status().sealed, false);
    release();
    const result = await rekeying;
    assert.deepEqual(result.shares, handed);
    assert.deepEqual(log.entries.filter((e) => e.type === 'key.rekeyed').map((e) => e.details['late']), [true], 'logged once, by the unseal');
    const record = JSON.parse((await store.meta.get('seal')) ?? '{}') as { pendingLog?: unknown };
    assert.equal(record.pendingLog, undefined);
    // In force: the previous shares are refused.
    server.seal();
    await rejectsWith(server.submit(a), 'invalid_share');
    await store.close();
  });

  void it('shares of a rekey undone while they were entered do not unseal, and nothing is logged for it', async () => {
    const { store, log, a, b } = await enclaveOf();
    const undo = await rekeyWithFailingAppend(store.meta, [a, b], { threshold: 2, officers: ['alice', 'bob', 'carol'] });
    // A server takes the new shares; its compare-and-sets wait while the rekey fails and is undone.
    const claims = gate();
    const server = new SealService(heldReplaces(store.meta, claims.opened), new Keyring(), { log });
    await server.load();
    await server.submit(shareOf(undo.shares, 'carol'));
    const completing = server.submit(shareOf(undo.shares, 'alice'));
    undo.appendFails.open();
    await rejectsWith(undo.rekeying, 'log_unavailable', /so it was undone/);
    claims.open();
    await rejectsWith(completing, 'invalid_share', /the seal changed while these shares were entered/);
    assert.equal(server.status().sealed, true);
    assert.deepEqual(log.entries.filter((e) => e.type === 'key.rekeyed' || e.type === 'enclave.unsealed'), []);
    await unsealWith(server, [a, b]);
    assert.equal(server.status().sealed, false, 'the previous shares, in force again, unseal');
    await store.close();
  });

  void it('an unseal that claimed the entry first: the rekey whose append fails is not undone, says so, and the unseal logs it', async () => {
    const { store, log, a, b } = await enclaveOf();
    const undo = await rekeyWithFailingAppend(store.meta, [a, b], { threshold: 2, officers: ['alice', 'bob', 'carol'] });
    // The unseal claims the entry, then its own append waits.
    const appends = gate();
    const appending = gate();
    const server = new SealService(store.meta, new Keyring(), { log: heldLog(appends.opened, appending.open, log) });
    await server.load();
    await server.submit(shareOf(undo.shares, 'carol'));
    const completing = server.submit(shareOf(undo.shares, 'alice'));
    await appending.opened;
    undo.appendFails.open();
    await rejectsWith(undo.rekeying, 'log_unavailable', /could not be undone: the new shares shown are the ones in force; the rekey is logged by the unseal logging it now/);
    appends.open();
    await completing;
    assert.equal(server.status().sealed, false);
    assert.deepEqual(log.entries.filter((e) => e.type === 'key.rekeyed').map((e) => e.details['late']), [true]);
    assert.equal(typeof (JSON.parse((await store.meta.get('seal')) ?? '{}') as { loggedMac?: unknown }).loggedMac, 'string', 'the receipt replaces the entry');
    server.seal();
    await rejectsWith(server.submit(a), 'invalid_share');
    await store.close();
  });

  void it('an entry taken out of the record by someone without shares: the rekey says it is unlogged, and the next unseal logs it from the record, unverified', async () => {
    const { store, log, a, b } = await enclaveOf();
    const undo = await rekeyWithFailingAppend(store.meta, [a, b], { threshold: 2, officers: ['alice', 'bob', 'dave'] });
    const record = JSON.parse((await store.meta.get('seal')) ?? '{}') as Record<string, unknown>;
    const { pendingLog, ...stripped } = record;
    assert.ok(pendingLog);
    await store.meta.put('seal', JSON.stringify(stripped));
    undo.appendFails.open();
    await rejectsWith(undo.rekeying, 'log_unavailable', /taken out of the seal record by someone without shares; the next unseal or rekey logs it, marked unverified/);
    const server = new SealService(store.meta, new Keyring(), { log });
    await server.load();
    await unsealWith(server, [shareOf(undo.shares, 'dave'), shareOf(undo.shares, 'bob')]);
    const rekeys = log.entries.filter((e) => e.type === 'key.rekeyed');
    const split = log.entries.findLast((e) => e.type === 'enclave.unsealed')?.details['split'];
    assert.deepEqual(rekeys.map((e) => e.details), [{ key: 'root', threshold: 2, officers: ['alice', 'bob', 'dave'], split, late: true, unverified: true, rekeyed_at: record['rekeyedAt'] }]);
    server.seal();
    await unsealWith(server, [shareOf(undo.shares, 'dave'), shareOf(undo.shares, 'alice')]);
    assert.equal(log.entries.filter((e) => e.type === 'key.rekeyed').length, 1, 'once: its receipt is in the record now');
    await store.close();
  });

  void it('a rekey with shares of a rekey undone while it ran is refused (rekey_conflict), changing nothing', async () => {
    const { store, log, a, b } = await enclaveOf();
    const undo = await rekeyWithFailingAppend(store.meta, [a, b], { threshold: 2, officers: ['alice', 'bob', 'carol'] });
    const claims = gate();
    const other = new SealService(heldReplaces(store.meta, claims.opened), new Keyring(1), { log });
    await other.load();
    const second = other.rekey([shareOf(undo.shares, 'carol'), shareOf(undo.shares, 'bob')], { threshold: 2, officers: ['bob', 'carol'] }, () => {});
    second.catch(() => {});
    undo.appendFails.open();
    await rejectsWith(undo.rekeying, 'log_unavailable', /so it was undone/);
    const undone = await store.meta.get('seal');
    claims.open();
    await rejectsWith(second, 'rekey_conflict');
    assert.equal(await store.meta.get('seal'), undone, 'nothing replaced');
    assert.deepEqual(log.entries.filter((e) => e.type === 'key.rekeyed'), []);
    await store.close();
  });

  void it('a sealed server keeps the shares entered when another instance logs the rekey in force (the record\'s text changes, not its split)', async () => {
    const { store, log, a, b } = await enclaveOf();
    const killed = await rekeyKilledAfterReplace(store.meta, log, [a, b], { threshold: 2, officers: ['alice', 'bob', 'carol'] });
    const waiting = new SealService(store.meta, new Keyring());
    await waiting.load();
    assert.equal((await waiting.submit(shareOf(killed.shares, 'alice'))).progress, 1);
    const other = new SealService(store.meta, new Keyring(), { log });
    await other.load();
    await unsealWith(other, [shareOf(killed.shares, 'bob'), shareOf(killed.shares, 'carol')]);
    assert.equal(log.entries.filter((e) => e.type === 'key.rekeyed').length, 1);
    await waiting.submit(shareOf(killed.shares, 'carol'));
    assert.equal(waiting.status().sealed, false, 'alice\'s share, entered before, still counts');
    await store.close();
  });

  void it('a rekey in force without entry or receipt (an earlier build\'s) is logged once by the next unseal, unverified', async () => {
    const { store, log, a, b } = await enclaveOf();
    const unlogged = new SealService(store.meta, new Keyring(1));
    await unlogged.load();
    const { shares } = await unlogged.rekey([a, b], { threshold: 2, officers: ['alice', 'bob', 'carol'] }, () => {});
    const server = new SealService(store.meta, new Keyring(), { log });
    await server.load();
    await unsealWith(server, [shareOf(shares, 'alice'), shareOf(shares, 'bob')]);
    server.seal();
    await unsealWith(server, [shareOf(shares, 'alice'), shareOf(shares, 'carol')]);
    assert.deepEqual(log.entries.filter((e) => e.type === 'key.rekeyed').map((e) => [e.details['late'], e.details['unverified']]), [[true, true]]);
    await store.close();
  });

  void it('a receipt made up, or copied from another record, refuses the unseal as an altered record; so does an entry whose split was renamed', async () => {
    const { store, log, admin, a, b } = await enclaveOf();
    const initRecord = JSON.parse((await store.meta.get('seal')) ?? '{}') as Record<string, unknown>;
    assert.equal(typeof initRecord['loggedMac'], 'string', 'init leaves its receipt');
    const { shares } = await admin.rekey([a, b], { threshold: 2, officers: ['alice', 'bob', 'carol'] }, () => {});
    const rekeyed = JSON.parse((await store.meta.get('seal')) ?? '{}') as Record<string, unknown>;
    const logged = log.entries.length;
    for (const [what, altered] of [
      ['made up', { ...rekeyed, loggedMac: 'A'.repeat(43) }],
      ['init\'s', { ...rekeyed, loggedMac: initRecord['loggedMac'] }],
      ['an officer renamed', { ...rekeyed, officers: (rekeyed['officers'] as { name: string }[]).map((o, i) => (i === 2 ? { ...o, name: 'mallory' } : o)) }],
    ] as const) {
      await store.meta.put('seal', JSON.stringify(altered));
      const next = new SealService(store.meta, new Keyring(), { log });
      await next.load();
      await next.submit(shareOf(shares, 'alice'));
      await rejectsWith(next.submit(shareOf(shares, 'bob')), 'integrity_error', /receipt that its split was logged was not written by this enclave/);
      assert.equal(next.status().sealed, true, what);
    }
    // A pending entry moved onto its split renamed: refused too.
    await store.meta.put('seal', JSON.stringify(rekeyed));
    const killed = await rekeyKilledAfterReplace(store.meta, log, [shareOf(shares, 'alice'), shareOf(shares, 'bob')], { threshold: 2, officers: ['alice', 'bob', 'carol'] });
    const pending = JSON.parse((await store.meta.get('seal')) ?? '{}') as Record<string, unknown>;
    await store.meta.put('seal', JSON.stringify({ ...pending, officers: (pending['officers'] as { name: string }[]).map((o, i) => (i === 0 ? { ...o, name: 'mallory' } : o)) }));
    const next = new SealService(store.meta, new Keyring(), { log });
    await next.load();
    await next.submit(shareOf(killed.shares, 'bob'));
    await rejectsWith(next.submit(shareOf(killed.shares, 'carol')), 'integrity_error', /rekey entry it holds for the log was not written by a rekey of this enclave/);
    assert.equal(log.entries.length, logged, 'nothing logged');
    await store.close();
  });

  void it('a killed rekey\'s entry and its time taken out (the record passing for init\'s): the next unseal logs the split in force, unverified', async () => {
    const { store, log, a, b } = await enclaveOf();
    const killed = await rekeyKilledAfterReplace(store.meta, log, [a, b], { threshold: 2, officers: ['alice', 'bob', 'dave'] });
    const { pendingLog, rekeyedAt, ...stripped } = JSON.parse((await store.meta.get('seal')) ?? '{}') as Record<string, unknown>;
    assert.ok(pendingLog && rekeyedAt);
    await store.meta.put('seal', JSON.stringify(stripped));
    const next = new SealService(store.meta, new Keyring(), { log });
    await next.load();
    await unsealWith(next, [shareOf(killed.shares, 'dave'), shareOf(killed.shares, 'alice')]);
    const rekeys = log.entries.filter((e) => e.type === 'key.rekeyed');
    assert.deepEqual(rekeys.map((e) => [e.details['officers'], e.details['unverified'], e.details['rekeyed_at']]), [[['alice', 'bob', 'dave'], true, null]]);
    await store.close();
  });

  void it('an enclave initialized before receipts (its record has none) logs its split in force once, unverified, at its first unseal', async () => {
    const { store, log, initial } = await enclaveOf();
    const { loggedMac, ...old } = JSON.parse((await store.meta.get('seal')) ?? '{}') as Record<string, unknown>;
    assert.ok(loggedMac);
    await store.meta.put('seal', JSON.stringify(old));
    const server = new SealService(store.meta, new Keyring(), { log });
    await server.load();
    await unsealWith(server, initial.slice(0, 2));
    server.seal();
    await unsealWith(server, initial.slice(1, 3));
    const rekeys = log.entries.filter((e) => e.type === 'key.rekeyed');
    assert.deepEqual(rekeys.map((e) => [e.details['officers'], e.details['unverified'], e.details['rekeyed_at'], e.details['split']]), [[['alice', 'bob', 'carol'], true, null, log.entries.find((e) => e.type === 'key.created')?.details['split']]]);
    await store.close();
  });

  void it('a rekey whose own append returns after a later rekey replaced it leaves that rekey\'s record as it is', async () => {
    const { store, log, a, b } = await enclaveOf();
    // A's append waits, then succeeds; meanwhile B, holding A's new shares, logs A (late) and replaces it.
    const appends = gate();
    const appending = gate();
    const first = new SealService(store.meta, new Keyring(1), { log: heldLog(appends.opened, appending.open, log) });
    await first.load();
    let handed: readonly OfficerShare[] = [];
    const rekeying = first.rekey([a, b], { threshold: 2, officers: ['alice', 'bob', 'carol'] }, (shares) => {
      handed = shares;
    });
    await appending.opened;
    const second = new SealService(store.meta, new Keyring(1), { log });
    await second.load();
    const { shares } = await second.rekey([shareOf(handed, 'carol'), shareOf(handed, 'bob')], { threshold: 2, officers: ['alice', 'bob', 'carol'] }, () => {});
    const replaced = await store.meta.get('seal');
    appends.open();
    await rekeying;
    assert.equal(await store.meta.get('seal'), replaced, 'the first rekey\'s receipt is not written over the second\'s record');
    const server = new SealService(store.meta, new Keyring(), { log });
    await server.load();
    await unsealWith(server, [shareOf(shares, 'alice'), shareOf(shares, 'carol')]);
    assert.equal(server.status().sealed, false);
    await store.close();
  });

  void it('a rekey stopped before its shares took effect is never logged late', async () => {
    const { store, log, a, b } = await enclaveOf();
    const admin = new SealService(store.meta, new Keyring(1), { log });
    await admin.load();
    await assert.rejects(admin.rekey([a, b], { threshold: 2, officers: ['alice', 'bob', 'carol'] }, () => Promise.reject(new Error('stopped'))), /stopped/);
    const next = new SealService(store.meta, new Keyring(), { log });
    await next.load();
    await unsealWith(next, [a, b]);
    assert.equal(next.status().sealed, false);
    assert.equal(log.entries.filter((e) => e.type === 'key.rekeyed').length, 0);
    await store.close();
  });

  void it('of two rekeys at once, the one that completes first wins; the other is refused (rekey_conflict) and its shares are void', async () => {
    const { store, server, log, a, b, c } = await enclaveOf();
    const first = new SealService(store.meta, new Keyring(1), { log });
    const second = new SealService(store.meta, new Keyring(1), { log });
    await first.load();
    await second.load();
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let secondShares: readonly OfficerShare[] = [];
    const late = second.rekey([b, c], { threshold: 2, officers: ['bob', 'carol'] }, async (shares) => {
      secondShares = shares;
      await held;
    });
    const won = await first.rekey([a, b], { threshold: 2, officers: ['alice', 'bob', 'carol'] }, () => {});
    release();
    await rejectsWith(late, 'rekey_conflict');
    await rejectsWith(server.submit(shareOf(secondShares, 'bob')), 'invalid_share');
    await unsealWith(server, [shareOf(won.shares, 'alice'), shareOf(won.shares, 'carol')]);
    assert.equal(server.status().sealed, false);
    assert.equal(log.entries.filter((e) => e.type === 'key.rekeyed').length, 1);
    await store.close();
  });

  void it('forgets shares a server took toward an attempt when the rekey lands in the middle of it', async () => {
    const { store, server, admin, a, b, c } = await enclaveOf(['alice', 'bob', 'carol'], 3);
    await server.submit(a);
    await server.submit(b);
    const { shares } = await admin.rekey([a, b, c], { threshold: 3, officers: ['alice', 'bob', 'carol'] }, () => {});
    // The old third share is refused, and the new attempt starts from nothing.
    await rejectsWith(server.submit(c), 'invalid_share');
    assert.equal((await server.submit(shareOf(shares, 'carol'))).progress, 1);
    await store.close();
  });

  void it('an enclave initialized before rekeys (its shares split the root key itself) unseals as before, rekeys to an unseal key, and says that its previous shares still rebuild the root key outside it', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    const root = randomBytes(32);
    const old = await splitSecret(root, 3, 2);
    const v1: SealRecord = {
      version: 1,
      threshold: 2,
      officers: ['alice', 'bob', 'carol'].map((name, i) => ({ name, fingerprint: shareFingerprint(old[i] ?? '') })),
      rootCheck: rootCheck(root),
      createdAt: new Date().toISOString(),
    };
    await store.meta.put('seal', JSON.stringify(v1));
    const keyring = new Keyring();
    const server = new SealService(store.meta, keyring);
    await server.load();
    await unsealWith(server, old.slice(0, 2));
    const expected = keyring.derive('test');
    server.seal();
    const admin = new SealService(store.meta, new Keyring(1));
    await admin.load();
    const result = await admin.rekey(old.slice(1), { threshold: 2, officers: ['alice', 'bob', 'carol'] }, () => {});
    assert.equal(result.previousWereRootShares, true);
    assert.equal((JSON.parse((await store.meta.get('seal')) ?? '') as SealRecord).version, 2);
    await rejectsWith(server.submit(old[0] ?? ''), 'invalid_share');
    await unsealWith(server, result.shares.slice(0, 2).map((s) => s.share));
    assert.deepEqual(keyring.derive('test'), expected);
    await store.close();
  });

  void it('a seal record whose sealed root key was altered unseals nothing (unseal_failed)', async () => {
    const { store, server, initial } = await enclaveOf();
    const record = JSON.parse((await store.meta.get('seal')) ?? '') as SealRecord & { sealedRoot: string };
    const bytes = Buffer.from(record.sealedRoot, 'base64url');
    bytes[20] = (bytes[20] ?? 0) ^ 1;
    await store.meta.put('seal', JSON.stringify({ ...record, sealedRoot: bytes.toString('base64url') }));
    await server.submit(initial[0] ?? '');
    await rejectsWith(server.submit(initial[1] ?? ''), 'unseal_failed');
    assert.equal(server.status().sealed, true);
    await store.close();
  });
});

void describe('a seal record this build cannot read', () => {
  void it('a record of a later version (a newer Enclave rekeyed) is refused at the first share and at open, naming the version, never taken for a version 1 record', async () => {
    const { store, server, initial } = await enclaveOf();
    const record = JSON.parse((await store.meta.get('seal')) ?? '') as Record<string, unknown>;
    await store.meta.put('seal', JSON.stringify({ ...record, version: 3 }));
    await rejectsWith(server.submit(initial[0] ?? ''), 'migration_refused', /version 3, which this build of Enclave does not read/);
    assert.equal(server.status().progress, 0);
    await rejectsWith(new SealService(store.meta, new Keyring()).load(), 'migration_refused', /version 3/);
    await store.close();
  });

  void it('an altered record (officers, threshold, the rekey fields, not JSON) is refused as malformed, the enclave staying sealed', async () => {
    const { store, server, initial } = await enclaveOf();
    const text = (await store.meta.get('seal')) ?? '';
    const record = JSON.parse(text) as Record<string, unknown>;
    const at = { rekeyedAt: '2026-01-01T00:00:00.000Z' };
    const rekeyFields = [
      { ...at, pendingLog: null },
      { ...at, pendingLog: { details: {}, mac: 7 } },
      { ...at, pendingLog: { details: 'x', mac: 'm' } },
      { ...at, pendingLog: { details: {}, mac: 'm', claimed: 'yes' } },
      { pendingLog: { details: {}, mac: 'm' } },
      { ...at, loggedMac: 1 },
      { rekeyedAt: 5 },
    ].map((fields) => JSON.stringify({ ...record, ...fields }));
    for (const altered of [JSON.stringify({ ...record, officers: 'alice' }), JSON.stringify({ ...record, threshold: 1 }), JSON.stringify({ ...record, sealedRoot: undefined }), `${text.slice(0, 20)}`, ...rekeyFields]) {
      await store.meta.put('seal', altered);
      await rejectsWith(server.submit(initial[0] ?? ''), 'integrity_error', /seal record in the control store is (malformed|not JSON)/);
      assert.equal(server.status().sealed, true);
    }
    await store.close();
  });
});

void describe('enclave rekey (a whole enclave)', () => {
  void it('keeps every record readable, and an enclave opened with the new seal section unseals with the new shares', async () => {
    const fx = await makeFixture();
    try {
      const s = `u-${randomBytes(4).toString('hex')}`;
      const service = fx.principals.service;
      await fx.enclave.vault.registerSubject(service, { id: s, country: 'US' });
      await fx.enclave.vault.createRecord(service, 'users', { id: `${s}-u`, data: { user_id: s, username: 'rekeyed', email: `${s}@x.test`, phone: '+1 555 0100' } });
      await fx.enclave.close();
      const config = loadConfig(fx.configPath);
      const target = { threshold: 2, officers: [...config.seal.officers.slice(1), 'dave'] };
      const admin = await openEnclave({ ...config, seal: target }, { rekey: true });
      let shares: readonly OfficerShare[] = [];
      try {
        ({ shares } = await admin.seal.rekey(fx.shares.slice(0, 2), target, () => {}));
      } finally {
        await admin.close();
      }
      // The configured split must now be the new one.
      await rejectsWith(openEnclave(config), 'invalid_config', /enclave rekey/);
      const reopened = await openEnclave({ ...config, seal: target });
      try {
        await unsealWith(reopened.seal, [shareOf(shares, 'dave'), shareOf(shares, target.officers[0] ?? '')]);
        const read = await reopened.vault.getRecord(service, 'users', `${s}-u`);
        assert.equal((read.data as { username?: string }).username, 'rekeyed');
      } finally {
        await reopened.close();
      }
    } finally {
      await fx.close().catch(() => {});
    }
  });
});
