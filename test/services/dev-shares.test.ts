// The development unseal file: a file that is not one (not JSON, JSON of another shape) is refused with
// invalid_config naming it, never a crash.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EnclaveError } from '../../src/core/errors.ts';
import { DEV_UNSEAL_FILE, readDevShares } from '../../src/services/dev-shares.ts';
import { tempDir } from '../helpers/fixture.ts';

void describe('readDevShares', () => {
  void it('reads the shares, and says undefined without a file', () => {
    const dir = tempDir();
    try {
      assert.equal(readDevShares(dir), undefined);
      writeFileSync(join(dir, DEV_UNSEAL_FILE), JSON.stringify({ shares: ['a', 'b'] }));
      assert.deepEqual(readDevShares(dir), ['a', 'b']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void it('refuses a file that is not a development unseal file with invalid_config', () => {
    const dir = tempDir();
    try {
      for (const text of ['', '{', 'null', '[]', '"x"', '7', '{"shares": "x"}', '{"shares": [1]}', '{"shares": null}']) {
        writeFileSync(join(dir, DEV_UNSEAL_FILE), text);
        assert.throws(
          () => readDevShares(dir),
          (e: unknown) => e instanceof EnclaveError && e.code === 'invalid_config' && e.message.includes(DEV_UNSEAL_FILE),
          JSON.stringify(text),
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void it('never quotes the file in its message: a truncated file still holds shares', () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir, DEV_UNSEAL_FILE), '{"shares":[enclave-share-v1-SECRETSECRETSECRET]}');
      assert.throws(
        () => readDevShares(dir),
        (e: unknown) => e instanceof EnclaveError && e.code === 'invalid_config' && !e.message.includes('SECRET') && !e.message.includes('enclave-share-v1'),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
