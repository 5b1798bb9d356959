// The witness has no configuration file: a body over its fixed add-checkpoint limit must be refused with
// that limit, not with the enclave server's advice to raise `server.max_body_bytes` (which the witness
// does not read, so an operator following it changes nothing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_ADD_CHECKPOINT_SIZE, SIG_TYPE_COSIGNATURE, cosignerFromKey, generateNoteKey } from '../../src/core/tlog/index.ts';
import { buildWitnessServer } from '../../src/http/witness-server.ts';
import { WitnessService, parseLogOption } from '../../src/services/witness-service.ts';
import { SqliteWitnessStore } from '../../src/storage/sqlite/sqlite-witness-store.ts';
import { StaticLog } from '../core/tlog/static-log.ts';
import { tempDir } from '../helpers/fixture.ts';

test('a body over the add-checkpoint limit is 413 naming that limit, not server.max_body_bytes', async () => {
  const dir = tempDir('enclave-witness-');
  const store = new SqliteWitnessStore(join(dir, 'witness.db'));
  const witness = new WitnessService({ store, cosigner: cosignerFromKey(generateNoteKey('w.example', SIG_TYPE_COSIGNATURE).skey), logs: parseLogOption(new StaticLog().vkey) });
  const app = await buildWitnessServer(witness);
  try {
    const res = await app.inject({ method: 'POST', url: '/add-checkpoint', payload: Buffer.alloc(MAX_ADD_CHECKPOINT_SIZE + 1, 'a') });
    assert.equal(res.statusCode, 413);
    const { error } = res.json<{ error: { code: string; message: string } }>();
    assert.equal(error.code, 'payload_too_large');
    assert.doesNotMatch(error.message, /max_body_bytes/);
    assert.match(error.message, new RegExp(`${MAX_ADD_CHECKPOINT_SIZE} bytes`));
    // Other errors are answered as before.
    const small = await app.inject({ method: 'POST', url: '/add-checkpoint', payload: 'old 0\n' });
    assert.equal(small.statusCode, 400);
    assert.equal(small.json<{ error: { code: string } }>().error.code, 'invalid_log_data');
  } finally {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
