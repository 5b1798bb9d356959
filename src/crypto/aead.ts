// AES-256-GCM with associated data (NIST SP 800-38D). Layout: version(1) | nonce(12) | ciphertext | tag(16).
// Random 96-bit nonces stay safe: a data key seals one subject's records, a site's key-encryption key one data
// key per subject of the site, both far below the 2^32 messages per key NIST SP 800-38D §8.3 allows.
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { EnclaveError } from '../core/errors.ts';

const VERSION = 1;
const NONCE = 12;
const TAG = 16;
export const KEY_BYTES = 32;

// Nonces come from a pooled CSPRNG buffer: one OpenSSL call per 4096 nonces instead of one each. They
// are exactly as random; a nonce is never secret, only never reused.
const POOL_BYTES = NONCE * 4096;
let pool = randomBytes(POOL_BYTES);
let poolOffset = 0;

function nextNonce(): Buffer {
  if (poolOffset + NONCE > POOL_BYTES) {
    pool = randomBytes(POOL_BYTES);
    poolOffset = 0;
  }
  const n = pool.subarray(poolOffset, poolOffset + NONCE);
  poolOffset += NONCE;
  return n;
}

/** A key as Node uses it; building the KeyObject once saves its cost on every message. */
export type AeadKey = KeyObject;

export function aeadKey(raw: Uint8Array): AeadKey {
  if (raw.length !== KEY_BYTES) throw new RangeError(`an AES-256 key is ${KEY_BYTES} bytes`);
  return createSecretKey(raw);
}

export function seal(key: AeadKey, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const nonce = nextNonce();
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG });
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  const final = cipher.final();
  return Buffer.concat([Buffer.of(VERSION), nonce, body, final, cipher.getAuthTag()]);
}

export function open(key: AeadKey, sealed: Uint8Array, aad: Uint8Array): Buffer {
  if (sealed.length < 1 + NONCE + TAG || sealed[0] !== VERSION) {
    throw new EnclaveError('integrity_error', 'ciphertext is truncated or of an unknown format');
  }
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(1, 1 + NONCE), { authTagLength: TAG });
    decipher.setAAD(aad);
    decipher.setAuthTag(buf.subarray(buf.length - TAG));
    const body = decipher.update(buf.subarray(1 + NONCE, buf.length - TAG));
    const final = decipher.final();
    // GCM is a stream mode: update() returns the whole plaintext and final() only checks the tag.
    if (final.length === 0) return body;
    // Otherwise the parts are wiped: what they hold may be a data key, which the caller wipes in its copy only.
    const plain = Buffer.concat([body, final]);
    body.fill(0);
    final.fill(0);
    return plain;
  } catch (cause) {
    throw new EnclaveError('integrity_error', 'ciphertext failed authentication: it was altered or does not belong to this row', { cause });
  }
}

export function randomKey(): Buffer {
  return randomBytes(KEY_BYTES);
}
