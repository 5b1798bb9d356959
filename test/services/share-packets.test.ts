// What init refuses about seal.recipients before any key exists: one age key given to two officers (its
// holder would open both shares, alone reaching a threshold of two), and --dev, whose file would hold a
// threshold of shares in clear for whoever runs init. Nothing is left behind.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EnclaveError } from '../../src/core/errors.ts';
import { newOfficerKey } from '../../src/crypto/officer-packet.ts';
import { initEnclave } from '../../src/services/init-service.ts';

const root = mkdtempSync(join(tmpdir(), 'enclave-share-packets-'));
after(() => rmSync(root, { recursive: true, force: true }));

const [alice, bob, carol] = await Promise.all([newOfficerKey(), newOfficerKey(), newOfficerKey()]);

async function refusedInit(dir: string, options: Parameters<typeof initEnclave>[1], code: string, message: RegExp): Promise<void> {
  await assert.rejects(initEnclave(dir, options), (err: unknown) => {
    assert.ok(err instanceof EnclaveError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, message);
    return true;
  });
  assert.equal(existsSync(dir), false, 'init removed what it created');
}

void describe('init with seal.recipients', () => {
  void it('refuses one age key for two officers', async () => {
    await refusedInit(join(root, 'same'), { threshold: 2, recipients: { alice: alice.recipient, bob: bob.recipient, carol: alice.recipient }, officers: ['alice', 'bob', 'carol'] }, 'invalid_config', /alice and carol have the same age public key/);
  });

  void it('refuses --dev, whose file would hold shares in clear', async () => {
    await refusedInit(join(root, 'dev'), { dev: true, threshold: 2, recipients: { alice: alice.recipient, bob: bob.recipient, carol: carol.recipient }, officers: ['alice', 'bob', 'carol'] }, 'invalid_argument', /--dev writes .* in clear/);
  });

  void it('hands out packets, and no development file, with distinct keys', async () => {
    const dir = join(root, 'ok');
    const result = await initEnclave(dir, { threshold: 2, recipients: { alice: alice.recipient, bob: bob.recipient, carol: carol.recipient }, officers: ['alice', 'bob', 'carol'] });
    assert.deepEqual(result.packets?.map((p) => p.officer), ['alice', 'bob', 'carol']);
    assert.equal(result.devUnsealPath, null);
  });
});
