// Who may read what and the approval rules live in the configuration file, which no quorum approves:
// its operator edits it and restarts. The restart comes back sealed, so the officers who unseal are
// shown which governed sections changed, and the unseal logs the digests (invariant 6: every change of
// policy is logged).
import { PassThrough } from 'node:stream';
import { unsealLocally } from '../../src/cli/local-unseal.ts';
import { Output } from '../../src/cli/output.ts';
import { openSealState } from '../../src/services/seal-state.ts';
import { memoryIo } from '../cli/helpers.ts';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { parse } from 'yaml';
import { describeSeal } from '../../src/cli/commands/unseal.ts';
import { changedSections, configDigests, storageIdentity } from '../../src/core/config-digest.ts';
import type { RawConfig } from '../../src/core/config-schema.ts';
import { EnclaveError } from '../../src/core/errors.ts';
import type { MetaStore } from '../../src/core/store.ts';
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
    assert.deepEqual(Object.keys(base).sort(), ['collections', 'control', 'data_dir', 'gatekeeper', 'jurisdictions', 'log', 'orgs', 'seal', 'server', 'sites']);
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

  test('leave a storage URL\'s password and the values of unknown parameters out, but not where it points', () => {
    assert.equal(storageIdentity('postgres://app:s3cret@db.example:5432/enclave?sslmode=require&password=x'), 'postgres://app@db.example:5432/enclave?password&sslmode=require');
    assert.equal(storageIdentity('sqlite:site-us.db'), 'sqlite:site-us.db');
    const withPassword = (pw: string, host = 'db.example') => configDigests(raw(starterConfig().replace('storage: sqlite:control.db', `storage: postgres://app:${pw}@${host}/control`)));
    assert.equal(withPassword('one').control, withPassword('two').control, 'a password change is not published');
    assert.notEqual(withPassword('one').control, withPassword('one', 'elsewhere.example').control, 'a move to another server is');
  });

  test('property: no password of a storage URL, in its userinfo or its query, is in what the digest covers', () => {
    const word = fc.stringMatching(/^[A-Za-z0-9]{12,24}$/);
    fc.assert(
      fc.property(fc.constantFrom('postgres', 'postgresql', 'mysql', 'mariadb'), word, word, fc.domain(), (scheme, user, password, host) => {
        // fast-check favours words like "LocaleString": a user name may hold the password and rightly show.
        fc.pre(!user.toLowerCase().includes(password.toLowerCase()) && !host.includes(password.toLowerCase()));
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

  test('is shown to the officers who type their shares into a migrate command too', async () => {
    const state = await openSealState(loadConfig(f.configPath));
    try {
      const stdin = new PassThrough();
      stdin.end((readDevShares(f.dataDir) ?? []).join('\n'));
      const io = memoryIo({ stdin });
      assert.equal((await unsealLocally(io, state, new Output(io), false)).length, 2);
      assert.match(io.err(), /The configuration changed since the last unseal: gatekeeper \(the unseal logs its digests\)/);
    } finally {
      await state.close();
    }
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

describe('what the digests cover', () => {
  const site = (storage: string) => configDigests(raw(starterConfig().replace('storage: sqlite:sites/eu-central.db', `storage: "${storage}"`))).sites;

  test('a PostgreSQL store moved to another schema, or its TLS checks changed, shows; its password does not', () => {
    // schema is where the site's tables are (search_path); sslmode and sslrootcert decide who can read them on the wire.
    const at = 'postgres://app:pw@db.example/enclave';
    assert.notEqual(site(`${at}?schema=eu`), site(`${at}?schema=us`));
    assert.notEqual(site(`${at}?sslmode=verify-full`), site(`${at}?sslmode=disable`));
    assert.notEqual(site(`${at}?sslmode=verify-full&sslrootcert=/etc/ca.pem`), site(`${at}?sslmode=verify-full&sslrootcert=/tmp/mine.pem`));
    assert.equal(site(`${at}?schema=eu&sslmode=require`), site(`${at.replace(':pw@', ':other@')}?sslmode=require&schema=eu`), 'the password and the order of the parameters are not changes');
  });

  test('server: TLS turned off, or the API moved onto the network, shows', () => {
    const withTls = starterConfig().replace(/^server:\n/m, 'server:\n  tls: { cert_file: tls/server.crt, key_file: tls/server.key }\n');
    assert.notEqual(withTls, starterConfig());
    assert.deepEqual(changedSections(configDigests(raw(withTls)), configDigests(raw(starterConfig()))), ['server'], 'shares would then cross in clear');
    const everywhere = starterConfig().replace(/^ {2}host: 127\.0\.0\.1$/m, '  host: 0.0.0.0');
    assert.notEqual(everywhere, starterConfig());
    assert.deepEqual(changedSections(configDigests(raw(starterConfig())), configDigests(raw(everywhere))), ['server']);
  });

  test('data_dir, which the relative SQLite paths of the stores are in', () => {
    const base = configDigests(raw(starterConfig()));
    const moved = configDigests(raw(starterConfig().replace(/^data_dir: data$/m, 'data_dir: /srv/elsewhere')));
    assert.deepEqual(changedSections(base, moved), ['data_dir']);
  });

  test('property: a storage text that is no URL with a host (never opened: backup and legacy sites) does not reach the digest with its password', () => {
    // A digit in its tail: no word of the fixed text ("password", "postgres") can be mistaken for it.
    const word = fc.stringMatching(/^[A-Za-z0-9]{5}[0-9][A-Za-z0-9]{6,18}$/);
    const forms = [
      (pw: string) => `postgres://app:${pw.slice(0, 4)}/${pw.slice(4)}@legacy.example/crm`,
      (pw: string) => `mysql://app:${pw.slice(0, 4)}#${pw.slice(4)}@legacy.example/crm`,
      // Digits before the "/" or "?" read as a port: the rest of the password as a path or a query.
      (pw: string) => `postgres://app:1234/${pw}@legacy.example/crm`,
      (pw: string) => `mysql://app:1234?${pw}@legacy.example/crm`,
      (pw: string) => `mysql://app:1234?x=${pw}@legacy.example/crm`,
      (pw: string) => `jdbc:mysql://legacy.example/crm?user=app&password=${pw}`,
      (pw: string) => `postgres:///crm?host=/run/postgresql&password=${pw}`,
      (pw: string) => `host=legacy.example dbname=crm user=app password=${pw}`,
      (pw: string) => `Server=legacy.example;Database=crm;Uid=app;Pwd=${pw};`,
      (pw: string) => `mariadb://app:${pw}@legacy.example:3306/crm?ssl=true&password=${pw}`,
    ];
    fc.assert(
      fc.property(fc.constantFrom(...forms), word, (form, password) => {
        const id = storageIdentity(form(password));
        assert.ok(!id.includes(password.slice(4)), id);
      }),
      { numRuns: 200 },
    );
  });
});

/** A control store's meta whose writes of the digests wait for `gate` (or fail, if it rejects). */
function gatedMeta(meta: MetaStore, gate: () => Promise<void>): MetaStore {
  return { ...meta, put: async (key, value) => (key === 'seal.configuration' ? gate().then(() => meta.put(key, value)) : meta.put(key, value)) };
}

describe('the seal and the recorded digests', () => {
  const v1 = configDigests(raw(starterConfig()));
  const v2 = configDigests(raw(starterConfig().replace('access_approval: { k: 2,', 'access_approval: { k: 3,')));
  const memoryLog = () => {
    const entries: { type: string; details: Record<string, unknown> }[] = [];
    const log: EventLog = { append: async (e) => Promise.resolve({ index: entries.push({ type: e.type, details: e.details }) - 1 }) };
    return { entries, log };
  };
  const initialized = async (store: SqliteStore, configuration = v1) => {
    const init = new SealService(store.meta, new Keyring(), { configuration });
    await init.load();
    return (await init.initialize(['alice', 'bob'], 2)).map((s) => s.share);
  };

  test('a seal given while the digests are being recorded wins: the keyring is not loaded after it', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    const shares = await initialized(store);
    let recording = false;
    let release = () => {};
    const keyring = new Keyring();
    const seal = new SealService(
      gatedMeta(store.meta, async () => {
        recording = true;
        await new Promise<void>((resolve) => (release = resolve));
      }),
      keyring,
      { configuration: v2 },
    );
    await seal.load();
    await seal.submit(shares[0] ?? '');
    const last = seal.submit(shares[1] ?? '');
    while (!recording) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(seal.seal().sealed, true);
    release();
    await assert.rejects(last, (err: unknown) => err instanceof EnclaveError && err.code === 'sealed');
    assert.equal(keyring.sealed, true, 'still sealed after the seal was acknowledged');
    await store.close();
  });

  test('init that cannot record the digests still hands out the shares of the key it split', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    const { entries, log } = memoryLog();
    const init = new SealService(
      gatedMeta(store.meta, () => Promise.reject(new Error('connection lost'))),
      new Keyring(),
      { log, configuration: v1 },
    );
    await init.load();
    const shares = await init.initialize(['alice', 'bob'], 2);
    assert.equal(shares.length, 2);
    assert.deepEqual(entries.map((e) => e.type), ['key.created']);
    const next = new SealService(store.meta, new Keyring(), { configuration: v1 });
    await next.load();
    assert.equal(next.status().configuration_changed, null, 'nothing recorded: nothing to compare with');
    await store.close();
  });

  test('several instances on one control store: an unseal compares with the last unseal, not with what was recorded when it opened', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    const shares = await initialized(store, v1);
    const { entries, log } = memoryLog();
    const edited = new SealService(store.meta, new Keyring(), { log, configuration: v2 });
    const unedited = new SealService(store.meta, new Keyring(), { log, configuration: v1 });
    await edited.load();
    await unedited.load();
    for (const share of shares) await edited.submit(share);
    for (const share of shares) await unedited.submit(share);
    const unseals = entries.filter((e) => e.type === 'enclave.unsealed').map((e) => e.details['configuration_changed']);
    assert.deepEqual(unseals, [['gatekeeper'], ['gatekeeper']], 'the edit, then the return to the old rules');
    await store.close();
  });

  for (const [what, value] of [
    ['not JSON', '{"gatekeeper": "sha256:'],
    ['null', 'null'],
    ['a string', '"sha256:00"'],
    ['an array', '[]'],
    ['a section that is not a digest', '{"gatekeeper": 5}'],
  ] as const) {
    test(`a recorded value that is ${what} is taken as none recorded, and the next unseal records the digests again`, async () => {
      const store = new SqliteStore({ path: ':memory:' });
      const shares = await initialized(store);
      await store.meta.put('seal.configuration', value);
      const { entries, log } = memoryLog();
      const seal = await SealService.open(store.meta, new Keyring(), { threshold: 2, officers: ['alice', 'bob'] }, { log, configuration: v2 });
      assert.equal(seal.status().configuration_changed, null);
      for (const share of shares) await seal.submit(share);
      const unsealed = entries.find((e) => e.type === 'enclave.unsealed')?.details;
      assert.deepEqual(unsealed?.['configuration'], { ...v2 });
      assert.equal(unsealed?.['configuration_changed'], undefined, 'no comparison claimed');
      assert.deepEqual(seal.status().configuration_changed, []);
      await store.close();
    });
  }

  test('an enclave initialized before the digests were recorded reports none, then records them at its unseal', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    const old = new SealService(store.meta, new Keyring());
    await old.load();
    const shares = (await old.initialize(['alice', 'bob'], 2)).map((s) => s.share);
    assert.equal(await store.meta.get('seal.configuration'), undefined);
    const { entries, log } = memoryLog();
    const seal = new SealService(store.meta, new Keyring(), { log, configuration: v1 });
    await seal.load();
    assert.equal(seal.status().configuration_changed, null);
    assert.match(describeSeal(seal.status()), /no configuration was recorded at the last unseal/);
    for (const share of shares) await seal.submit(share);
    assert.equal(entries.find((e) => e.type === 'enclave.unsealed')?.details['configuration_changed'], undefined);
    const next = new SealService(store.meta, new Keyring(), { configuration: v1 });
    await next.load();
    assert.deepEqual(next.status().configuration_changed, []);
    await store.close();
  });
});
