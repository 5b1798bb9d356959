// AES-256-GCM with associated data: round trips, and any change to ciphertext, key or associated data is
// integrity_error, never garbage plaintext and never another kind of error.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { EnclaveError } from '../../src/core/errors.ts';
import { aeadKey, KEY_BYTES, open, randomKey, seal } from '../../src/crypto/aead.ts';
import { deriveKey, rootCheck, rootCheckMatches, siteKek } from '../../src/crypto/key-derivation.ts';

const OVERHEAD = 1 + 12 + 16;
const isIntegrity = (err: unknown) => err instanceof EnclaveError && err.code === 'integrity_error';
const key = aeadKey(randomKey());
const aad = new TextEncoder().encode('["enclave/record/v1","users","r1","s1",1]');

void describe('AEAD seal/open', () => {
  void it('round-trips any plaintext under any associated data', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.uint8Array({ maxLength: 256 }), (plain, ad) => {
        const sealed = seal(key, plain, ad);
        assert.equal(sealed.length, plain.length + OVERHEAD);
        assert.equal(sealed[0], 1, 'format version byte');
        assert.deepEqual(new Uint8Array(open(key, sealed, ad)), plain);
      }),
    );
  });

  void it('seals the same plaintext differently each time (fresh nonces, also across nonce-pool refills)', () => {
    const plain = Buffer.from('same message');
    const nonces = new Set<string>();
    const N = 10_000; // more than one pool of 4096 nonces
    for (let i = 0; i < N; i++) nonces.add(Buffer.from(seal(key, plain, aad).subarray(1, 13)).toString('hex'));
    assert.equal(nonces.size, N);
  });

  void it('a ciphertext does not contain its plaintext', () => {
    const plain = Buffer.from('canary-plaintext-'.repeat(8));
    const sealed = Buffer.from(seal(key, plain, aad));
    assert.equal(sealed.includes(Buffer.from('canary-plaintext-')), false);
  });

  void it('flipping any bit of the ciphertext (version, nonce, body or tag) is integrity_error', () => {
    const sealed = seal(key, Buffer.from('protected value: alice@example.test'), aad);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: sealed.length - 1 }), fc.integer({ min: 0, max: 7 }), (i, bit) => {
        const tampered = Uint8Array.from(sealed);
        tampered[i] = (tampered[i] ?? 0) ^ (1 << bit);
        assert.throws(() => open(key, tampered, aad), isIntegrity);
      }),
      { numRuns: 500 },
    );
    // Exhaustively, one flip per byte.
    for (let i = 0; i < sealed.length; i++) {
      const tampered = Uint8Array.from(sealed);
      tampered[i] = (tampered[i] ?? 0) ^ 0x80;
      assert.throws(() => open(key, tampered, aad), isIntegrity, `byte ${i}`);
    }
  });

  void it('wrong associated data is integrity_error (a ciphertext moved to another row)', () => {
    const sealed = seal(key, Buffer.from('x'), aad);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (other) => {
        fc.pre(Buffer.compare(Buffer.from(other), Buffer.from(aad)) !== 0);
        assert.throws(() => open(key, sealed, other), isIntegrity);
      }),
    );
  });

  void it('a wrong key is integrity_error', () => {
    const sealed = seal(key, Buffer.from('x'), aad);
    assert.throws(() => open(aeadKey(randomKey()), sealed, aad), isIntegrity);
  });

  void it('a truncated or extended ciphertext is integrity_error', () => {
    const sealed = seal(key, Buffer.from('a protected value of some length'), aad);
    for (let n = 0; n < sealed.length; n++) assert.throws(() => open(key, sealed.subarray(0, n), aad), isIntegrity, `first ${n} bytes`);
    assert.throws(() => open(key, Buffer.concat([sealed, Buffer.of(0)]), aad), isIntegrity);
    assert.throws(() => open(key, new Uint8Array(0), aad), isIntegrity);
  });

  void it('opens a ciphertext that sits inside a larger buffer (as drivers return BLOBs)', () => {
    const sealed = seal(key, Buffer.from('inside'), aad);
    const big = Buffer.concat([randomBytes(7), sealed, randomBytes(5)]);
    const view = new Uint8Array(big.buffer, big.byteOffset + 7, sealed.length);
    assert.equal(open(key, view, aad).toString(), 'inside');
  });

  void it('keys are 256-bit; another length is refused', () => {
    assert.equal(randomKey().length, KEY_BYTES);
    assert.notDeepEqual(randomKey(), randomKey());
    assert.throws(() => aeadKey(randomBytes(16)), RangeError);
  });
});

void describe('key derivation', () => {
  const root = randomBytes(32);

  void it('derives deterministic, distinct keys per site and per purpose', () => {
    assert.deepEqual(siteKek(root, 'trusted-us'), siteKek(root, 'trusted-us'));
    assert.notDeepEqual(siteKek(root, 'trusted-us'), siteKek(root, 'eu-central'));
    assert.notDeepEqual(siteKek(root, 'trusted-us'), deriveKey(root, 'root-check'));
    assert.notDeepEqual(siteKek(root, 'trusted-us'), siteKek(randomBytes(32), 'trusted-us'));
    assert.equal(siteKek(root, 'x').length, 32);
  });

  void it('a key wrapped for one site does not open under another site\'s key', () => {
    const dek = randomKey();
    const wrapped = seal(aeadKey(siteKek(root, 'trusted-us')), dek, aad);
    assert.throws(() => open(aeadKey(siteKek(root, 'eu-central')), wrapped, aad), isIntegrity);
  });

  void it('the root check confirms the root key without revealing it', () => {
    const check = rootCheck(root);
    assert.match(check, /^[0-9a-f]{64}$/);
    assert.equal(rootCheckMatches(root, check), true);
    assert.equal(rootCheckMatches(randomBytes(32), check), false);
    assert.equal(check.includes(root.toString('hex')), false);
    // Malformed check values are a mismatch, not a crash.
    for (const bad of ['', 'zz', check.slice(0, 62), `${check}00`]) assert.equal(rootCheckMatches(root, bad), false, bad);
  });
});
