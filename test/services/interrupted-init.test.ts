// An init that fails or is killed after it created the root key, before it handed out the shares: on
// PostgreSQL nothing it wrote is removed again (and a killed process removes nothing anywhere), so the
// store holds a root key whose shares no one has. Such an enclave is not initialized, and init runs again.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { EnclaveConfig } from '../../src/core/config.ts';
import { EnclaveError } from '../../src/core/errors.ts';
import { loadConfig } from '../../src/services/config-loader.ts';
import { DEV_UNSEAL_FILE, readDevShares } from '../../src/services/dev-shares.ts';
import { openEnclave } from '../../src/services/enclave.ts';
import { CONFIG_FILE, initEnclave } from '../../src/services/init-service.ts';
import { SealService } from '../../src/services/seal-service.ts';
import { starterConfig } from '../../src/services/starter-config.ts';
import { tempDir } from '../helpers/fixture.ts';
import { dropSchemas, freshSchema, postgresConfig, schemaMaker } from '../helpers/postgres.ts';

const schemas = { control: freshSchema('ii_control'), us: freshSchema('ii_us'), eu: freshSchema('ii_eu'), log: freshSchema('ii_log') };
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await dropSchemas(...Object.values(schemas));
});

/** The stored key is the one these shares unseal (and not the one `foreign` belongs to). */
async function unsealsWith(config: EnclaveConfig, shares: readonly string[], foreign?: string): Promise<void> {
  const check = await openEnclave(config);
  try {
    assert.equal(check.seal.status().initialized, true);
    if (foreign !== undefined) await assert.rejects(check.seal.submit(foreign), (err: unknown) => err instanceof EnclaveError && err.code === 'invalid_share');
    for (const s of shares.slice(0, config.seal.threshold)) await check.seal.submit(s);
    assert.equal(check.seal.status().sealed, false);
  } finally {
    await check.close();
  }
}

const stores = [
  ['the embedded store', (c: string) => c],
  ['PostgreSQL', (c: string) => postgresConfig(c, schemas)],
] as const;

for (const [name, edit] of stores) {
  describe(`an init interrupted after it created the root key, on ${name}`, () => {
    test('leaves an enclave that is not initialized, refuses its shares, and is initialized by a new init', async () => {
      const dir = tempDir();
      dirs.push(dir);
      writeFileSync(join(dir, CONFIG_FILE), edit(starterConfig()));
      const config = loadConfig(join(dir, CONFIG_FILE));
      mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
      // What init does up to the root key, then the process is gone.
      const first = await openEnclave(config);
      const lost = (await first.seal.initialize(config.seal.officers, config.seal.threshold, { pending: true })).map((s) => s.share);
      await first.close();

      const stranded = await openEnclave(config);
      try {
        assert.equal(stranded.seal.status().initialized, false);
        await assert.rejects(stranded.seal.submit(lost[0] ?? ''), (err: unknown) => err instanceof EnclaveError && err.code === 'not_initialized' && /did not complete/.test(err.message));
      } finally {
        await stranded.close();
      }

      const init = await initEnclave(dir);
      const enclave = await openEnclave(loadConfig(init.configPath));
      try {
        assert.equal(enclave.seal.status().initialized, true);
        await assert.rejects(enclave.seal.submit(lost[0] ?? ''), (err: unknown) => err instanceof EnclaveError && err.code === 'invalid_share', 'the lost key\'s shares are not this one\'s');
        for (const s of init.shares.slice(0, init.threshold)) await enclave.seal.submit(s.share);
        assert.equal(enclave.seal.status().sealed, false);
        assert.ok(await enclave.tokens.authenticate(init.tokens[0]?.secret ?? ''), 'the new bootstrap token works');
      } finally {
        await enclave.close();
      }
      // Complete now: a third init is refused.
      await assert.rejects(initEnclave(dir), (err: unknown) => err instanceof EnclaveError && err.code === 'already_initialized');
    });
  });
}

/** A directory with the starter configuration (edited) and its data directory, as init would find them. */
function prepared(edit: (c: string) => string): { dir: string; config: ReturnType<typeof loadConfig> } {
  const dir = tempDir();
  dirs.push(dir);
  writeFileSync(join(dir, CONFIG_FILE), edit(starterConfig()));
  const config = loadConfig(join(dir, CONFIG_FILE));
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  return { dir, config };
}

const isCode = (code: string) => (err: unknown) => err instanceof EnclaveError && err.code === code;

for (const [name, edit] of stores) {
  describe(`inits that meet, on ${name}`, () => {
    const schema = schemaMaker();
    const own = (c: string) => (name === 'PostgreSQL' ? postgresConfig(c, { control: schema('iic'), us: schema('iiu'), eu: schema('iie'), log: schema('iil') }) : edit(c));

    test('an init whose pending key another init replaced fails instead of handing out shares of no stored key', async () => {
      const { config } = prepared(own);
      const a = await openEnclave(config);
      const b = await openEnclave(config);
      try {
        const aShares = await a.seal.initialize(config.seal.officers, config.seal.threshold, { pending: true });
        const bShares = await b.seal.initialize(config.seal.officers, config.seal.threshold, { pending: true });
        await assert.rejects(a.seal.completeInitialization(), isCode('already_initialized'));
        await b.seal.completeInitialization();
        await unsealsWith(config, bShares.map((s) => s.share), aShares[0]?.share);
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('two inits at once over a stranded key: exactly one prints shares, and they unseal', async () => {
      const { dir, config } = prepared(own);
      const first = await openEnclave(config);
      await first.seal.initialize(config.seal.officers, config.seal.threshold, { pending: true });
      await first.close();
      const results = await Promise.allSettled([initEnclave(dir), initEnclave(dir), initEnclave(dir)]);
      const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      assert.equal(won.length, 1, `inits that printed shares: ${won.length}`);
      for (const r of results) if (r.status === 'rejected') assert.ok(isCode('already_initialized')(r.reason), String(r.reason));
      const enclave = await openEnclave(config);
      try {
        for (const s of won[0]?.shares.slice(0, config.seal.threshold) ?? []) await enclave.seal.submit(s.share);
        assert.equal(enclave.seal.status().sealed, false);
      } finally {
        await enclave.close();
      }
    });

    test('an init that reads a stranded key another init replaces before it writes is refused (compare-and-set)', async () => {
      const { config } = prepared(own);
      const stranded = await openEnclave(config);
      await stranded.seal.initialize(config.seal.officers, config.seal.threshold, { pending: true });
      await stranded.close();
      const a = await openEnclave(config);
      const b = await openEnclave(config);
      try {
        let bShares: string[] = [];
        let armed = false;
        // A reads the stranded record (in initialize, not load); B replaces it before A writes.
        const meta = {
          ...a.control.meta,
          get: async (key: string) => {
            const value = await a.control.meta.get(key);
            if (armed && key === 'seal' && bShares.length === 0) bShares = (await b.seal.initialize(config.seal.officers, config.seal.threshold, { pending: true })).map((s) => s.share);
            return value;
          },
        };
        const seal = new SealService(meta, a.keyring);
        await seal.load();
        armed = true;
        await assert.rejects(seal.initialize(config.seal.officers, config.seal.threshold, { pending: true }), isCode('already_initialized'));
        await b.seal.completeInitialization();
        assert.equal(bShares.length, config.seal.officers.length);
        await unsealsWith(config, bShares);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });

  describe(`two inits at once in a new directory, on ${name}`, () => {
    const schema = schemaMaker();
    const own = (c: string) => (name === 'PostgreSQL' ? postgresConfig(c, { control: schema('iic'), us: schema('iiu'), eu: schema('iie'), log: schema('iil') }) : edit(c));

    test('the one that loses leaves what it created to the one that printed shares', async () => {
      const parent = tempDir();
      dirs.push(parent);
      const dir = join(parent, 'enclave');
      const path = join(dir, CONFIG_FILE);
      // Embedded: the first writes the starter configuration and the other uses it; PostgreSQL: the data
      // directory is the first's.
      if (name === 'PostgreSQL') {
        mkdirSync(dir);
        writeFileSync(path, own(starterConfig()));
      }
      const results = await Promise.allSettled([initEnclave(dir), initEnclave(dir)]);
      const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      assert.equal(won.length, 1, results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok')).join('; '));
      const config = loadConfig(path);
      const enclave = await openEnclave(config);
      try {
        assert.equal(enclave.seal.status().initialized, true);
        for (const s of won[0]?.shares.slice(0, config.seal.threshold) ?? []) await enclave.seal.submit(s.share);
        assert.equal(enclave.seal.status().sealed, false);
      } finally {
        await enclave.close();
      }
    });
  });

  describe(`after an interrupted init, on ${name}`, () => {
    const schema = schemaMaker();
    const own = (c: string) => (name === 'PostgreSQL' ? postgresConfig(c, { control: schema('iic'), us: schema('iiu'), eu: schema('iie'), log: schema('iil') }) : edit(c));

    test('a bootstrap role changed since its tokens were issued is refused before the key is replaced, naming what to put back', async () => {
      const { dir, config } = prepared(own);
      const first = await openEnclave(config);
      await first.seal.initialize(config.seal.officers, config.seal.threshold, { pending: true });
      const { org, role } = config.gatekeeper.bootstrap;
      await first.tokens.issue({ principal: config.seal.officers[0] ?? '', org, role, label: 'bootstrap (enclave init)' });
      const before = await first.control.meta.get('seal');
      await first.close();
      const path = join(dir, CONFIG_FILE);
      writeFileSync(path, readFileSync(path, 'utf8').replace('bootstrap: { role: gatekeeper/officer }', 'bootstrap: { role: gatekeeper/approver }'));
      await assert.rejects(initEnclave(dir), (err: unknown) => isCode('invalid_config')(err) && /gatekeeper\/officer/.test((err as Error).message));
      const after = await openEnclave(config);
      try {
        assert.equal(await after.control.meta.get('seal'), before, 'the stranded record is left as it was');
      } finally {
        await after.close();
      }
      // Put back: init completes.
      writeFileSync(path, readFileSync(path, 'utf8').replace('bootstrap: { role: gatekeeper/approver }', 'bootstrap: { role: gatekeeper/officer }'));
      const init = await initEnclave(dir);
      assert.equal(init.tokens.length, config.seal.officers.length);
    });

    test('a development unseal file of the replaced key is removed by an init without --dev', async () => {
      const { dir, config } = prepared(own);
      const first = await openEnclave(config);
      const lost = await first.seal.initialize(config.seal.officers, config.seal.threshold, { pending: true });
      await first.close();
      const devFile = join(config.dataDir, DEV_UNSEAL_FILE);
      writeFileSync(devFile, JSON.stringify({ shares: lost.slice(0, config.seal.threshold).map((s) => s.share) }), { mode: 0o600 });
      await initEnclave(dir);
      assert.equal(existsSync(devFile), false, 'its shares belong to no key; serve would warn that they unseal this enclave');
    });

    test('init --dev over a stranded key writes the new key\'s shares to the development file', async () => {
      const { dir, config } = prepared(own);
      const first = await openEnclave(config);
      const lost = await first.seal.initialize(config.seal.officers, config.seal.threshold, { pending: true });
      await first.close();
      writeFileSync(join(config.dataDir, DEV_UNSEAL_FILE), JSON.stringify({ shares: lost.map((s) => s.share) }), { mode: 0o600 });
      const init = await initEnclave(dir, { dev: true });
      assert.deepEqual(readDevShares(config.dataDir), init.shares.slice(0, init.threshold).map((s) => s.share));
    });
  });

  describe(`an enclave initialized before the mark existed, on ${name}`, () => {
    const schema = schemaMaker();
    const own = (c: string) => (name === 'PostgreSQL' ? postgresConfig(c, { control: schema('iic'), us: schema('iiu'), eu: schema('iie'), log: schema('iil') }) : edit(c));

    test('is initialized, unseals, and init refuses it changing nothing', async () => {
      const { dir, config } = prepared(own);
      const old = await openEnclave(config);
      // No `initializing` field: what older code wrote.
      const shares = await old.seal.initialize(config.seal.officers, config.seal.threshold);
      const record = await old.control.meta.get('seal');
      assert.equal((JSON.parse(record ?? '{}') as Record<string, unknown>)['initializing'], undefined);
      await old.close();
      await assert.rejects(initEnclave(dir), isCode('already_initialized'));
      await assert.rejects(initEnclave(dir, { dev: true }), isCode('already_initialized'));
      assert.equal(existsSync(join(config.dataDir, DEV_UNSEAL_FILE)), false);
      const enclave = await openEnclave(config);
      try {
        assert.equal(await enclave.control.meta.get('seal'), record);
        assert.equal(enclave.seal.status().initialized, true);
        for (const s of shares.slice(0, config.seal.threshold)) await enclave.seal.submit(s.share);
        assert.equal(enclave.seal.status().sealed, false);
      } finally {
        await enclave.close();
      }
    });
  });
}
