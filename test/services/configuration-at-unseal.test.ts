// Who may read what and the approval rules live in the configuration file, which no quorum approves:
// its operator edits it and restarts. The restart comes back sealed, so the officers who unseal are
// shown which governed sections changed, and the unseal logs the digests (invariant 6: every change of
// policy is logged).
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { parse } from 'yaml';
import { changedSections, configDigests, storageIdentity } from '../../src/core/config-digest.ts';
import type { RawConfig } from '../../src/core/config-schema.ts';
import { readDevShares } from '../../src/services/dev-shares.ts';
import type { EventLog } from '../../src/core/event-log.ts';
import { loadConfig } from '../../src/services/config-loader.ts';
import { Keyring } from '../../src/services/keyring.ts';
import { SealService } from '../../src/services/seal-service.ts';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.ts';
import { openEnclave, type Enclave } from '../../src/services/enclave.ts';
import { starterConfig } from '../../src/services/starter-config.ts';
import { makeFixture, type Fixture } from '../helpers/fixture.ts';
import { loggedEvents } from '../helpers/log.ts';

const raw = (text: string) => parse(text) as RawConfig;

describe('configuration digests', () => {
  test('name each governed section; a change shows in its own section only', () => {
    const base = configDigests(raw(starterConfig()));
    assert.deepEqual(Object.keys(base).sort(), ['collections', 'control', 'gatekeeper', 'jurisdictions', 'log', 'orgs', 'seal', 'sites']);
    for (const d of Object.values(base)) assert.match(d, /^sha256:[0-9a-f]{64}$/);
    const k3 = configDigests(raw(starterConfig().replace('access_approval: { k: 2,', 'access_approval: { k: 3,')));
    assert.deepEqual(changedSections(base, k3), ['gatekeeper']);
    const noControl = Object.fromEntries(Object.entries(base).filter(([section]) => section !== 'control'));
    assert.deepEqual(changedSections(noControl, base), ['control'], 'a section added counts as changed');
    // Key order and YAML formatting are not changes (canonical JSON, RFC 8785).
    const reordered = starterConfig().replace('access_approval: { k: 2, from: [gatekeepers, monitors], require: { gatekeepers: 1, monitors: 1 } }', 'access_approval: { require: { monitors: 1, gatekeepers: 1 }, from: [gatekeepers, monitors], k: 2 }');
    assert.notEqual(reordered, starterConfig());
    assert.deepEqual(changedSections(base, configDigests(raw(reordered))), []);
  });

  test('leave a storage URL\'s password and query out, but not where it points', () => {
    assert.equal(storageIdentity('postgres://app:s3cret@db.example:5432/enclave?sslmode=require&password=x'), 'postgres://app@db.example:5432/enclave');
    assert.equal(storageIdentity('sqlite:site-us.db'), 'sqlite:site-us.db');
    const withPassword = (pw: string, host = 'db.example') => configDigests(raw(starterConfig().replace('storage: sqlite:control.db', `storage: postgres://app:${pw}@${host}/control`)));
    assert.equal(withPassword('one').control, withPassword('two').control, 'a password change is not published');
    assert.notEqual(withPassword('one').control, withPassword('one', 'elsewhere.example').control, 'a move to another server is');
  });

  test('property: no password of a storage URL, in its userinfo or its query, is in what the digest covers', () => {
    const word = fc.stringMatching(/^[A-Za-z0-9]{12,24}$/);
    fc.assert(
      fc.property(fc.constantFrom('postgres', 'postgresql', 'mysql', 'mariadb'), word, word, fc.domain(), (scheme, user, password, host) => {
        const id = storageIdentity(`${scheme}://${user}:${password}@${host}/db?password=${password}&sslmode=require`);
        assert.ok(!id.includes(password), id);
        assert.ok(id.includes(host.toLowerCase()), id);
      }),
      { numRuns: 200 },
    );
  });
});

describe('an unseal after the configuration was edited', () => {
  let f: Fixture;
  let enclave: Enclave;

  before(async () => {
    f = await makeFixture();
    await f.enclave.close();
    // The operator lowers the access quorum and restarts.
    const yaml = readFileSync(f.configPath, 'utf8');
    const edited = yaml.replace('access_approval: { k: 2,', 'access_approval: { k: 3,');
    assert.notEqual(edited, yaml);
    writeFileSync(f.configPath, edited);
    enclave = await openEnclave(loadConfig(f.configPath));
  });
  after(async () => {
    await enclave.close();
    rmSync(f.dir, { recursive: true, force: true });
  });

  test('is shown to the officers before they unseal, and logged with the new digests', async () => {
    assert.deepEqual(enclave.seal.status().configuration_changed, ['gatekeeper']);
    for (const share of readDevShares(f.dataDir) ?? []) await enclave.seal.submit(share);
    assert.equal(enclave.seal.status().sealed, false);
    const unseals = (await loggedEvents(enclave)).filter((e) => e.type === 'enclave.unsealed');
    assert.equal(unseals.length, 2, 'the fixture\'s unseal, then this one');
    assert.deepEqual(unseals[0]?.details['configuration_changed'], [], 'the first unseal ran the configuration init recorded');
    const last = unseals[1]?.details;
    assert.deepEqual(last?.['configuration_changed'], ['gatekeeper']);
    assert.deepEqual(last?.['configuration'], { ...enclave.config.digests });
    assert.notDeepEqual(unseals[0]?.details['configuration'], last?.['configuration']);
    // Recorded: the next unseal with the same file reports no change.
    assert.deepEqual(enclave.seal.status().configuration_changed, []);
    await enclave.close();
    enclave = await openEnclave(loadConfig(f.configPath));
    assert.deepEqual(enclave.seal.status().configuration_changed, []);
  });
});

describe('recording the digests', () => {
  test('a control store that refuses them does not undo a logged unseal: the next one reports the change again', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    const entries: { type: string; details: Record<string, unknown> }[] = [];
    const log: EventLog = { append: async (e) => Promise.resolve({ index: entries.push({ type: e.type, details: e.details }) - 1 }) };
    const before = configDigests(raw(starterConfig()));
    const init = new SealService(store.meta, new Keyring(), { log, configuration: before });
    await init.load();
    const shares = (await init.initialize(['alice', 'bob'], 2)).map((s) => s.share);
    let refuse = true;
    const meta = { ...store.meta, put: async (key: string, value: string) => (refuse && key === 'seal.configuration' ? Promise.reject(new Error('disk full')) : store.meta.put(key, value)) };
    const after = configDigests(raw(starterConfig().replace('access_approval: { k: 2,', 'access_approval: { k: 3,')));
    const keyring = new Keyring();
    const seal = new SealService(meta, keyring, { log, configuration: after });
    await seal.load();
    for (const share of shares) await seal.submit(share);
    assert.equal(keyring.sealed, false, 'unsealed, as logged');
    assert.deepEqual(entries.at(-1)?.details['configuration_changed'], ['gatekeeper']);
    const again = new SealService(meta, new Keyring(), { configuration: after });
    await again.load();
    assert.deepEqual(again.status().configuration_changed, ['gatekeeper'], 'not recorded: reported again');
    refuse = false;
    await store.close();
  });
});
