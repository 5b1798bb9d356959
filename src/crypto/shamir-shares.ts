// Root-key sharing with Shamir's scheme over GF(2^8), using the audited `shamir-secret-sharing` library.
// A share is printed as `enclave-share-v1-<base64url>`; the seal record keeps a SHA-256 per share so a
// wrong share is refused on entry, before any reconstruction is attempted.
import { createHash } from 'node:crypto';
import { combine, split } from 'shamir-secret-sharing';
import { EnclaveError } from '../core/errors.ts';

const PREFIX = 'enclave-share-v1-';

export async function splitSecret(secret: Uint8Array, shares: number, threshold: number): Promise<string[]> {
  // The library checks for a plain Uint8Array; a Buffer (a subclass) is refused.
  const copy = Uint8Array.from(secret);
  let parts: Uint8Array[] = [];
  try {
    parts = await split(copy, shares, threshold);
    return parts.map(encodeShare);
  } finally {
    // The copy is the root key, and k of the parts rebuild it. (The encoded strings cannot be wiped.)
    copy.fill(0);
    for (const p of parts) p.fill(0);
  }
}

export async function combineShares(shares: readonly string[]): Promise<Uint8Array> {
  const parts = shares.map(decodeShare);
  try {
    return await combine(parts);
  } finally {
    for (const p of parts) p.fill(0);
  }
}

export function encodeShare(bytes: Uint8Array): string {
  // A view, not a copy: the caller wipes the bytes.
  return PREFIX + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

export function decodeShare(text: string): Uint8Array {
  const t = text.trim();
  if (!t.startsWith(PREFIX)) throw new EnclaveError('invalid_share', `an unseal share starts with "${PREFIX}"`);
  const body = t.slice(PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw new EnclaveError('invalid_share', 'an unseal share is base64url after its prefix');
  const bytes = Buffer.from(body, 'base64url');
  // Node's decoder ignores trailing garbage; only the canonical encoding of 33 bytes is a share.
  if (bytes.length !== 33 || bytes.toString('base64url') !== body) throw new EnclaveError('invalid_share', 'an unseal share is 44 base64url characters after its prefix');
  // A plain Uint8Array over the decoded bytes (not a copy), so that wiping it wipes them.
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function shareFingerprint(text: string): string {
  const bytes = decodeShare(text);
  try {
    return createHash('sha256').update(bytes).digest('hex');
  } finally {
    bytes.fill(0);
  }
}
