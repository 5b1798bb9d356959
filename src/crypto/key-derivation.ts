// Keys derived from the root key with HKDF-SHA256 (RFC 5869); each purpose has its own `info` label so
// one derived key can never stand in for another.
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

const SALT = Buffer.from('enclave/v1');

export function deriveKey(root: Uint8Array, label: string): Buffer {
  return Buffer.from(hkdfSync('sha256', root, SALT, label, 32));
}

/** Key-encryption key of a site: wraps the per-subject data keys stored there. */
export function siteKek(root: Uint8Array, siteId: string): Buffer {
  return deriveKey(root, `kek/site/${siteId}`);
}

/** A public check value that confirms a reconstructed root key without revealing it. */
export function rootCheck(root: Uint8Array): string {
  const key = deriveKey(root, 'root-check');
  try {
    return createHmac('sha256', key).update('enclave root key check').digest('hex');
  } finally {
    // Derived from the root key: wiped as every copy of key material is once used.
    key.fill(0);
  }
}

export function rootCheckMatches(root: Uint8Array, expectedHex: string): boolean {
  const a = Buffer.from(rootCheck(root), 'hex');
  const b = Buffer.from(expectedHex, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The transparency log's subject key: entries name a subject by HMAC-SHA256(this key, subject id). */
export function logSubjectKey(root: Uint8Array): Buffer {
  return deriveKey(root, 'log/subject');
}

/** Seed of the transparency log's Ed25519 checkpoint-signing key (RFC 8032 private key). */
export function logSigningSeed(root: Uint8Array): Buffer {
  return deriveKey(root, 'log/checkpoint-signing');
}

/**
 * MAC of a rekey's log entry while it waits in the seal record (seal-service.ts): only a holder of the
 * root key (k shares) writes one that the enclave then logs; a writer of the control store cannot.
 */
export function rekeyLogMac(root: Uint8Array, text: string): string {
  const key = deriveKey(root, 'seal/rekey-log');
  try {
    return createHmac('sha256', key).update(text).digest('base64url');
  } finally {
    key.fill(0);
  }
}

export function rekeyLogMacMatches(root: Uint8Array, text: string, mac: string): boolean {
  const a = Buffer.from(rekeyLogMac(root, text), 'base64url');
  const b = Buffer.from(mac, 'base64url');
  return a.length === b.length && timingSafeEqual(a, b);
}
