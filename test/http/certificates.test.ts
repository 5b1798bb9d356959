// Deletion certificates are public over HTTP, with their verifier key: anyone can fetch both and verify
// the certificate offline; nothing needs a token, and nothing else is revealed.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildLegacySites } from '../../src/cli/demo/legacy-sites.ts';
import { Population } from '../../src/cli/demo/population.ts';
import { verifyCertificate } from '../../src/core/deletion-certificate.ts';
import type { MigrationStateStore } from '../../src/core/migration-state.ts';
import { purgeMigration } from '../../src/services/migration/migration-purger.ts';
import { MigrationRunner } from '../../src/services/migration/migration-runner.ts';
import { verifyMigration } from '../../src/services/migration/migration-verifier.ts';
import { openMigration, openMigrationStateOf } from '../../src/services/migration/open-migration.ts';
import { makeHttpFixture, type HttpFixture } from '../helpers/http.ts';

void describe('GET /v1/certificates', () => {
  let h: HttpFixture;
  let state: MigrationStateStore;
  before(async () => {
    h = await makeHttpFixture();
    state = await openMigrationStateOf(h.enclave.config);
  });
  after(async () => {
    await state.close();
    await h.close();
  });

  void it('serves no key before the first certificate, then the key and each certificate, publicly, verifiable offline', async () => {
    const none = await h.call(null, 'GET', '/v1/certificates/vkey');
    assert.equal(none.statusCode, 404);
    assert.equal(none.json<{ error: { code: string } }>().error.code, 'certificate_not_found');

    const [virginia] = buildLegacySites(join(h.dir, 'legacy'), new Population(2, 20));
    const opened = await openMigration(h.enclave, state, { mappingPath: virginia?.mappingPath ?? '' });
    try {
      await new MigrationRunner(opened.ctx).run();
      assert.equal((await verifyMigration(opened.ctx)).ok, true);
      const { certificate } = await purgeMigration(opened.ctx);
      const vkey = await h.call(null, 'GET', '/v1/certificates/vkey');
      assert.equal(vkey.statusCode, 200);
      assert.match(vkey.headers['content-type'] ?? '', /^text\/plain/);
      const note = await h.call(null, 'GET', `/v1/certificates/${certificate.id}`);
      assert.equal(note.statusCode, 200);
      assert.match(String(note.headers['cache-control']), /immutable/);
      assert.equal(verifyCertificate(note.body, vkey.body).id, certificate.id);
    } finally {
      await opened.close();
    }
    assert.equal((await h.call(null, 'GET', '/v1/certificates/dc-000000000000000000000000')).statusCode, 404);
    const bad = await h.call(null, 'GET', '/v1/certificates/..%2Fcontrol.db');
    assert.equal(bad.statusCode, 400);
  });
});
