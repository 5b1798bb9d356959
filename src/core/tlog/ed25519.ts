// Ed25519 (RFC 8032) over node:crypto KeyObjects, converting to and from the raw 32-byte keys the
// signed-note formats carry. The DER prefixes are the fixed SPKI / PKCS#8 headers for Ed25519 (RFC 8410).
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { EnclaveError } from '../errors.ts';

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
export const ED25519_KEY_SIZE = 32;
export const ED25519_SIGNATURE_SIZE = 64;

export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  if (raw.byteLength !== ED25519_KEY_SIZE) throw new EnclaveError('invalid_log_data', `an Ed25519 public key is ${ED25519_KEY_SIZE} bytes, not ${raw.byteLength}`);
  try {
    return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  } catch (cause) {
    throw new EnclaveError('invalid_log_data', 'the Ed25519 public key is not a valid curve point', { cause });
  }
}

export function ed25519PrivateKey(seed: Uint8Array): KeyObject {
  if (seed.byteLength !== ED25519_KEY_SIZE) throw new EnclaveError('invalid_log_data', `an Ed25519 private key is ${ED25519_KEY_SIZE} bytes, not ${seed.byteLength}`);
  const der = Buffer.concat([PKCS8_PREFIX, seed]);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    // The seed's copy: callers wipe theirs, and this one is out of their reach.
    der.fill(0);
  }
}

/** The raw 32-byte public key of an Ed25519 public or private KeyObject. */
export function rawPublicKey(key: KeyObject): Uint8Array {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType !== 'ed25519') throw new EnclaveError('invalid_log_data', 'the key is not an Ed25519 key');
  return new Uint8Array(pub.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length));
}

/** The raw 32-byte seed of an Ed25519 private KeyObject. */
export function rawPrivateKey(key: KeyObject): Uint8Array {
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519') throw new EnclaveError('invalid_log_data', 'the key is not an Ed25519 private key');
  return new Uint8Array(key.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length));
}

export function generateEd25519(): KeyObject {
  return generateKeyPairSync('ed25519').privateKey;
}

export function ed25519Sign(key: KeyObject, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, key));
}

export function ed25519Verify(key: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.byteLength !== ED25519_SIGNATURE_SIZE) return false;
  return verify(null, message, key, signature);
}
