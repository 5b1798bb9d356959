// Ed25519 private keys are built from seeds derived from the root key: the caller wipes its seed, and no
// other copy of it may be left behind in memory it cannot reach.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { ed25519PrivateKey, rawPublicKey } from '../../../src/core/tlog/ed25519.ts';

void test('a private key built from a seed leaves no copy of the seed in the buffers it made', () => {
  const seed = randomBytes(32);
  const made: Buffer[] = [];
  const concat = Buffer.concat.bind(Buffer);
  Buffer.concat = (list, length) => {
    const out = concat(list, length);
    made.push(out);
    return out;
  };
  try {
    const key = ed25519PrivateKey(seed);
    assert.equal(rawPublicKey(key).length, 32, 'the key works');
  } finally {
    Buffer.concat = concat;
  }
  for (const b of made) assert.equal(b.indexOf(seed), -1, 'no copy of the seed left');
});
