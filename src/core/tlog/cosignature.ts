// C2SP tlog-cosignature, the Ed25519 `cosignature/v1` type (signature type 0x04): a witness signs
//   "cosignature/v1\ntime <POSIX seconds>\n" || checkpoint note text
// and the note signature is timestamp (big-endian u64) || Ed25519 signature (72 bytes).
import type { KeyObject } from 'node:crypto';
import { EnclaveError } from '../errors.ts';
import { toHex } from './encoding.ts';
import { ED25519_SIGNATURE_SIZE, ed25519PublicKey, ed25519Sign, ed25519Verify, rawPublicKey } from './ed25519.ts';
import { formatVerifierKey, keyId, parseSignerKey, parseVerifierKey, type NoteSignature, type NoteSigner, type NoteVerifier } from './note.ts';

export const SIG_TYPE_COSIGNATURE = 0x04;
const TIMESTAMP_SIZE = 8;
export const COSIGNATURE_SIZE = TIMESTAMP_SIZE + ED25519_SIGNATURE_SIZE;
const MAX_TIMESTAMP = 2n ** 63n - 1n;

const encoder = new TextEncoder();

/** The message a cosigner signs for a checkpoint note text at `timestamp`. */
export function cosignatureMessage(text: Uint8Array, timestamp: bigint): Uint8Array {
  const header = encoder.encode(`cosignature/v1\ntime ${timestamp.toString()}\n`);
  const out = new Uint8Array(header.byteLength + text.byteLength);
  out.set(header);
  out.set(text, header.byteLength);
  return out;
}

export interface Cosigner extends NoteSigner {
  readonly vkey: string;
}

/** A cosigner; `now` gives POSIX seconds (the clock is injected so tests can fix it). */
export function createCosigner(name: string, privateKey: KeyObject, now: () => number = () => Math.floor(Date.now() / 1000)): Cosigner {
  const pub = rawPublicKey(privateKey);
  return {
    name,
    keyId: keyId(name, SIG_TYPE_COSIGNATURE, pub),
    vkey: formatVerifierKey(name, SIG_TYPE_COSIGNATURE, pub),
    sign(text) {
      const t = now();
      if (!Number.isSafeInteger(t) || t < 0) throw new EnclaveError('internal', 'the cosigner clock gave an invalid time');
      const timestamp = BigInt(t);
      const out = new Uint8Array(COSIGNATURE_SIZE);
      new DataView(out.buffer).setBigUint64(0, timestamp);
      out.set(ed25519Sign(privateKey, cosignatureMessage(text, timestamp)), TIMESTAMP_SIZE);
      return out;
    },
  };
}

/** A cosigner from its signer key string (`PRIVATE+KEY+<name>+<id>+base64(0x04 || seed)`). */
export function cosignerFromKey(skey: string, now?: () => number): Cosigner {
  const k = parseSignerKey(skey);
  if (k.type !== SIG_TYPE_COSIGNATURE) throw new EnclaveError('invalid_log_data', 'signer key is not a cosignature/v1 key (type 0x04)');
  return createCosigner(k.name, k.privateKey, now);
}

/** The timestamp a cosignature carries (POSIX seconds), or undefined if it is not 72 bytes. */
export function cosignatureTimestamp(signature: Uint8Array): bigint | undefined {
  if (signature.byteLength !== COSIGNATURE_SIZE) return undefined;
  return new DataView(signature.buffer, signature.byteOffset, signature.byteLength).getBigUint64(0);
}

/** A verifier of cosignature/v1 signatures by one witness key. */
export function cosignatureVerifier(name: string, publicKey: Uint8Array): NoteVerifier {
  const key = ed25519PublicKey(publicKey);
  return {
    name,
    keyId: keyId(name, SIG_TYPE_COSIGNATURE, publicKey),
    verify(text, signature) {
      const timestamp = cosignatureTimestamp(signature);
      if (timestamp === undefined || timestamp > MAX_TIMESTAMP) return false;
      return ed25519Verify(key, cosignatureMessage(text, timestamp), signature.subarray(TIMESTAMP_SIZE));
    },
  };
}

/** A cosignature verifier from a witness vkey (type 0x04). */
export function cosignatureVerifierFromKey(vkey: string): NoteVerifier {
  const k = parseVerifierKey(vkey);
  if (k.type !== SIG_TYPE_COSIGNATURE) throw new EnclaveError('invalid_log_data', `witness key ${k.name} is not a cosignature/v1 key (type 0x04)`);
  return cosignatureVerifier(k.name, k.key);
}

/**
 * Each witness key that repeats an earlier one's public key, whatever the names (`first` is the earlier's
 * index): a cosignature/v1 signature does not commit to the cosigner's name (tlog-cosignature), so one
 * key listed under two names would count twice towards a quorum. Keys that do not parse are skipped.
 */
export function repeatedWitnessKeys(vkeys: readonly string[]): { readonly index: number; readonly first: number }[] {
  const seen = new Map<string, number>();
  const repeats: { index: number; first: number }[] = [];
  vkeys.forEach((vkey, index) => {
    let key: string;
    try {
      key = toHex(parseVerifierKey(vkey).key);
    } catch {
      return;
    }
    const first = seen.get(key);
    if (first === undefined) seen.set(key, index);
    else repeats.push({ index, first });
  });
  return repeats;
}

/** Verified note signatures that come from the given witnesses: one per witness at most. */
export function witnessesThatCosigned(verified: readonly NoteSignature[], witnesses: readonly NoteVerifier[]): NoteVerifier[] {
  return witnesses.filter((w) => verified.some((s) => s.name === w.name && s.keyId === w.keyId));
}
