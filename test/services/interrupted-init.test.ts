// An init that fails or is killed after it created the root key, before it handed out the shares: on
// PostgreSQL nothing it wrote is removed again (and a killed process removes nothing anywhere), so the
// store holds a root key whose shares no one has. Such an enclave is not initialized, and init runs again.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { EnclaveError } from '../../src/core/errors.ts';
import { loadConfig } from '../../src/services/config-loader.ts';
import { openEnclave } from '../../src/services/enclave.ts';
import { CONFIG_FILE, initEnclave } from '../../src/services/init-service.ts';
import { starterConfig } from '../../src/services/starter-config.ts';
import { tempDir } from '../helpers/fixture.ts';
import { dropSchemas, freshSchema, postgresConfig } from '../helpers/postgres.ts';

const schemas = { control: freshSchema('ii_control'), us: freshSchema('ii_us'), eu: freshSchema('ii_eu'), log: freshSchema('ii_log') };
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await dropSchemas(...Object.values(schemas));
});

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
