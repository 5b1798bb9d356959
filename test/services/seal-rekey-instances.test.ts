// A rekey seen by the other instances of one enclave (PostgreSQL: several hosts on one control store;
// SQLite: the server and the CLI on one data directory). A sealed instance refuses the previous shares at
// once, over HTTP and in process, forgets shares it took toward an attempt the rekey overtook, reports the
// new split in its seal status, and unseals with the new shares.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/services/config-loader.ts';
import { openEnclave, type Enclave } from '../../src/services/enclave.ts';
import type { OfficerShare } from '../../src/services/seal-service.ts';
import { makeHttpFixture, type HttpFixture } from '../helpers/http.ts';
import { dropSchemas, freshSchema, postgresConfig, postgresSkip } from '../helpers/postgres.ts';
import { codeOf, settle } from '../helpers/two-instances.ts';

const skip = await postgresSkip();

for (const backend of ['SQLite', 'PostgreSQL'] as const) {
  void describe(`a rekey seen by another instance (${backend})`, { skip: backend === 'PostgreSQL' ? skip : false, timeout: 120_000 }, () => {
    const schemas = { control: freshSchema('rki_control'), us: freshSchema('rki_us'), eu: freshSchema('rki_eu'), log: freshSchema('rki_log') };
    let a: HttpFixture | undefined;
    let b: Enclave | undefined;
    before(async () => {
      a = await makeHttpFixture({ sealed: true, ...(backend === 'PostgreSQL' ? { config: (yaml: string) => postgresConfig(yaml, schemas) } : {}) });
      b = await openEnclave(loadConfig(a.configPath), { instance: 'b' });
    });
    after(async () => {
      await b?.close();
      await a?.close();
      if (backend === 'PostgreSQL') await dropSchemas(...Object.values(schemas));
    });

    void it('refuses the previous shares at once, forgets an overtaken attempt, and unseals with the new ones', async () => {
      assert.ok(a && b);
      const [s0, s1, s2] = a.shares;
      assert.ok(s0 && s1 && s2);
      // An attempt half-way on B, with an old share.
      assert.equal((await b.seal.submit(s0)).progress, 1);
      const config = loadConfig(a.configPath);
      const admin = await openEnclave(config, { rekey: true, instance: 'admin' });
      let shares: readonly OfficerShare[] = [];
      try {
        ({ shares } = await admin.seal.rekey([s1, s2], config.seal, () => {}));
      } finally {
        await admin.close();
      }
      // Over HTTP, on A: the status is the new split's, and an old share is refused.
      const status = await a.call(null, 'GET', '/v1/sys/seal-status');
      assert.equal(status.statusCode, 200);
      assert.equal(status.json<{ progress: number }>().progress, 0);
      const old = await a.call(null, 'POST', '/v1/sys/unseal', { share: s1 });
      assert.equal(old.statusCode, 400, old.body);
      assert.equal(old.json<{ error: { code: string } }>().error.code, 'invalid_share');
      // In process, on B: the attempt it had is gone, the old share is refused.
      assert.equal(codeOf(await settle(b.seal.submit(s2))), 'invalid_share');
      assert.equal((await b.seal.currentStatus()).progress, 0);
      for (const s of shares.slice(0, 2)) await b.seal.submit(s.share);
      assert.equal(b.seal.status().sealed, false);
      for (const s of shares.slice(1, 3)) {
        const r = await a.call(null, 'POST', '/v1/sys/unseal', { share: s.share });
        assert.equal(r.statusCode, 200, r.body);
      }
      assert.equal(a.enclave.seal.status().sealed, false);
    });
  });
}
