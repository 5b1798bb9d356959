// Ed25519 signing keys derived from the root key (RFC 8032 private keys are 32-byte seeds, so an HKDF
// output is one): the same root always gives the same key, and nothing of it is stored.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

// DER prefix of an Ed25519 PKCS #8 PrivateKeyInfo (RFC 8410 section 7): the 32-byte seed follows.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface Ed25519Key {
  readonly privateKey: KeyObject;
  /** The 32-byte public key (RFC 8032 encoding). */
  readonly publicKey: Buffer;
}

export function ed25519FromSeed(seed: Uint8Array): Ed25519Key {
  if (seed.length !== 32) throw new RangeError('an Ed25519 seed is 32 bytes');
  const der = Buffer.concat([PKCS8_PREFIX, seed]);
  try {
    const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    return { privateKey, publicKey: Buffer.from(spki.subarray(spki.length - 32)) };
  } finally {
    der.fill(0);
  }
}
