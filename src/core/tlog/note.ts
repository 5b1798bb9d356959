// C2SP signed-note: text ending in a newline, a blank line, then signature lines
// `— <key name> base64(key ID || signature)`. Keys are identified by (name, key ID) with
// key ID = SHA-256(name || 0x0A || type || public key)[:4]; verifier keys are written
// `<name>+<8 hex key ID>+base64(type || public key)` and signer keys
// `PRIVATE+KEY+<name>+<8 hex key ID>+base64(type || private key)`, as Go's golang.org/x/mod/sumdb/note does.
import { createHash, type KeyObject } from 'node:crypto';
import { EnclaveError } from '../errors.ts';
import { ED25519_KEY_SIZE, ed25519PrivateKey, ed25519PublicKey, ed25519Sign, ed25519Verify, generateEd25519, rawPrivateKey, rawPublicKey } from './ed25519.ts';
import { decodeBase64, decodeUtf8, encodeBase64 } from './encoding.ts';

/** Signature type byte of plain Ed25519 note signatures. */
export const SIG_TYPE_ED25519 = 0x01;
/** Notes larger than this are refused before parsing (the spec asks for a limit; checkpoints are tiny). */
export const MAX_NOTE_SIZE = 1024 * 1024;
/** At most this many signature lines (the spec requires accepting at least 16). */
export const MAX_NOTE_SIGNATURES = 100;

const SIG_PREFIX = '\u2014 ';

export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  /** Verifies `signature` (without the 4-byte key ID) over the note text's bytes. */
  verify(text: Uint8Array, signature: Uint8Array): boolean;
}

export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  /** Signs the note text's bytes; the result is the signature without the key ID. */
  sign(text: Uint8Array): Uint8Array;
}

export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
  /** The signature bytes after the key ID. */
  readonly signature: Uint8Array;
  /** The whole signature line, with its newline. */
  readonly line: string;
}

export interface OpenedNote {
  /** The note text, final newline included. */
  readonly text: string;
  /** Signatures by the given verifiers, all verified (one per key). */
  readonly verified: readonly NoteSignature[];
  /** Signatures by keys the caller does not know: kept, never trusted. */
  readonly unverified: readonly NoteSignature[];
}

export interface NoteKey {
  readonly name: string;
  readonly keyId: number;
  readonly type: number;
  readonly key: Uint8Array;
}

function malformed(message: string): never {
  throw new EnclaveError('invalid_log_data', message);
}

const encoder = new TextEncoder();

/** Non-empty, no Unicode space, no `+` (signed-note "Format"). */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !/[\s\u0085+]/u.test(name) && name.isWellFormed() && !hasControl(name);
}

function hasControl(text: string): boolean {
  return /[\u0000-\u0009\u000b-\u001f]/.test(text);
}

export function keyId(name: string, type: number, key: Uint8Array): number {
  const digest = createHash('sha256').update(name).update(new Uint8Array([0x0a, type])).update(key).digest();
  return digest.readUInt32BE(0);
}

/** A key ID as signed notes spell it: 8 lower-case hex digits. */
export function keyIdHex(id: number): string {
  return id.toString(16).padStart(8, '0');
}

/** `<name>+<hex key ID>+base64(type || key)`. */
export function formatVerifierKey(name: string, type: number, key: Uint8Array): string {
  if (!isValidKeyName(name)) malformed('a key name must be non-empty, without spaces or +');
  return `${name}+${keyIdHex(keyId(name, type, key))}+${encodeBase64(new Uint8Array([type, ...key]))}`;
}

function parseKey(text: string, what: string): NoteKey {
  // name + key ID + base64 key; the base64 may itself contain `+`, the name and ID cannot.
  const first = text.indexOf('+');
  const second = first < 0 ? -1 : text.indexOf('+', first + 1);
  if (second < 0) malformed(`${what} must have the form <name>+<key id>+<base64 key>`);
  const name = text.slice(0, first);
  const id = text.slice(first + 1, second);
  if (!isValidKeyName(name)) malformed(`${what} has an invalid key name`);
  if (!/^[0-9a-f]{8}$/.test(id)) malformed(`${what} key ID must be 8 lowercase hex digits`);
  const raw = decodeBase64(text.slice(second + 1), `${what} key`);
  if (raw.byteLength < 2) malformed(`${what} key is too short`);
  const type = raw[0] as number;
  const key = raw.subarray(1);
  return { name, keyId: Number.parseInt(id, 16), type, key };
}

/** Parses a verifier key and checks that its key ID matches its name and key. */
export function parseVerifierKey(vkey: string): NoteKey {
  const parsed = parseKey(vkey.trim(), 'verifier key');
  if (keyId(parsed.name, parsed.type, parsed.key) !== parsed.keyId) malformed('verifier key ID does not match its name and key');
  return parsed;
}

/** `PRIVATE+KEY+<name>+<hex key ID>+base64(type || private key)`, the key ID computed from the public key. */
export function formatSignerKey(name: string, type: number, privateKey: KeyObject): string {
  if (!isValidKeyName(name)) malformed('a key name must be non-empty, without spaces or +');
  const id = keyId(name, type, rawPublicKey(privateKey));
  return `PRIVATE+KEY+${name}+${keyIdHex(id)}+${encodeBase64(new Uint8Array([type, ...rawPrivateKey(privateKey)]))}`;
}

/** Parses a signer key; its key ID must match the public key derived from it. */
export function parseSignerKey(skey: string): { readonly name: string; readonly keyId: number; readonly type: number; readonly privateKey: KeyObject } {
  const text = skey.trim();
  if (!text.startsWith('PRIVATE+KEY+')) malformed('signer key must start with PRIVATE+KEY+');
  const parsed = parseKey(text.slice('PRIVATE+KEY+'.length), 'signer key');
  if (parsed.key.byteLength !== ED25519_KEY_SIZE) malformed('signer key is not a 32-byte Ed25519 seed');
  const privateKey = ed25519PrivateKey(parsed.key);
  if (keyId(parsed.name, parsed.type, rawPublicKey(privateKey)) !== parsed.keyId) malformed('signer key ID does not match its name and key');
  return { name: parsed.name, keyId: parsed.keyId, type: parsed.type, privateKey };
}

/** A plain Ed25519 note signer (type 0x01), as a log signs its checkpoints. */
export function ed25519NoteSigner(name: string, privateKey: KeyObject): NoteSigner & { readonly vkey: string } {
  const pub = rawPublicKey(privateKey);
  const vkey = formatVerifierKey(name, SIG_TYPE_ED25519, pub);
  return {
    name,
    keyId: keyId(name, SIG_TYPE_ED25519, pub),
    vkey,
    sign: (text) => ed25519Sign(privateKey, text),
  };
}

/** A plain Ed25519 note verifier (type 0x01) for a raw public key. */
export function ed25519NoteVerifier(name: string, publicKey: Uint8Array): NoteVerifier {
  const key = ed25519PublicKey(publicKey);
  return { name, keyId: keyId(name, SIG_TYPE_ED25519, publicKey), verify: (text, sig) => ed25519Verify(key, text, sig) };
}

/** A verifier from a vkey string; only Ed25519 (type 0x01) keys. */
export function noteVerifier(vkey: string): NoteVerifier {
  const k = parseVerifierKey(vkey);
  if (k.type !== SIG_TYPE_ED25519) malformed(`verifier key type 0x${k.type.toString(16).padStart(2, '0')} is not an Ed25519 note key (0x01)`);
  return ed25519NoteVerifier(k.name, k.key);
}

/** A signer from a skey string; only Ed25519 (type 0x01) keys. */
export function noteSigner(skey: string): NoteSigner & { readonly vkey: string } {
  const k = parseSignerKey(skey);
  if (k.type !== SIG_TYPE_ED25519) malformed('signer key is not an Ed25519 note key (0x01)');
  return ed25519NoteSigner(k.name, k.privateKey);
}

/** A new Ed25519 note key pair: the secret `skey` and the public `vkey`. */
export function generateNoteKey(name: string, type: number = SIG_TYPE_ED25519): { readonly skey: string; readonly vkey: string } {
  const privateKey = generateEd25519();
  return { skey: formatSignerKey(name, type, privateKey), vkey: formatVerifierKey(name, type, rawPublicKey(privateKey)) };
}

function checkText(text: string, what: string): void {
  if (!text.isWellFormed()) malformed(`${what} is not valid UTF-8`);
  if (hasControl(text)) malformed(`${what} contains a control character`);
}

/** Checks a note text: ends in a newline, valid UTF-8, no control character but newlines. */
export function checkNoteText(text: string): void {
  checkText(text, 'note text');
  if (!text.endsWith('\n')) malformed('note text must end with a newline');
}

function signatureLine(name: string, id: number, signature: Uint8Array): string {
  const bytes = new Uint8Array(4 + signature.byteLength);
  new DataView(bytes.buffer).setUint32(0, id);
  bytes.set(signature, 4);
  return `${SIG_PREFIX}${name} ${encodeBase64(bytes)}\n`;
}

/** Signs `text` with each signer: the text, a blank line, one signature line per signer. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  checkNoteText(text);
  if (signers.length === 0) malformed('a signed note needs at least one signer');
  const bytes = encoder.encode(text);
  let out = `${text}\n`;
  for (const s of signers) {
    if (!isValidKeyName(s.name)) malformed('a key name must be non-empty, without spaces or +');
    out += signatureLine(s.name, s.keyId, s.sign(bytes));
  }
  return out;
}

/** Signature lines over `text` by `signers` alone (a witness's answer, to append to the note). */
export function signatureLines(text: string, signers: readonly NoteSigner[]): string {
  return signNote(text, signers).slice(text.length + 1);
}

/** Splits a note into its text and parsed signature lines, without verifying anything. */
export function splitNote(note: string | Uint8Array): { readonly text: string; readonly signatures: readonly NoteSignature[] } {
  const size = typeof note === 'string' ? Buffer.byteLength(note) : note.byteLength;
  if (size > MAX_NOTE_SIZE) malformed(`note is larger than ${MAX_NOTE_SIZE} bytes`);
  const message = typeof note === 'string' ? note : decodeUtf8(note, 'note');
  checkText(message, 'note');
  const split = message.lastIndexOf('\n\n');
  if (split < 0) malformed('note has no blank line before its signatures');
  const text = message.slice(0, split + 1);
  const block = message.slice(split + 2);
  if (block.length === 0) malformed('note has no signature');
  if (!block.endsWith('\n')) malformed('note signatures must end with a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) malformed(`note has more than ${MAX_NOTE_SIGNATURES} signatures`);
  const signatures = lines.map((line, i): NoteSignature => {
    if (!line.startsWith(SIG_PREFIX)) malformed(`note signature line ${i + 1} does not start with an em dash and a space`);
    const body = line.slice(SIG_PREFIX.length);
    const space = body.indexOf(' ');
    if (space < 0) malformed(`note signature line ${i + 1} has no space between name and signature`);
    const name = body.slice(0, space);
    if (!isValidKeyName(name)) malformed(`note signature line ${i + 1} has an invalid key name`);
    const raw = decodeBase64(body.slice(space + 1), `note signature line ${i + 1}`);
    if (raw.byteLength < 5) malformed(`note signature line ${i + 1} is too short`);
    const keyIdValue = new DataView(raw.buffer, raw.byteOffset, raw.byteLength).getUint32(0);
    return { name, keyId: keyIdValue, signature: raw.subarray(4), line: `${line}\n` };
  });
  return { text, signatures };
}

/**
 * Opens a signed note: every signature by a known key (same name and key ID) must verify, repeated ones
 * too, and at least one must; signatures by unknown keys are kept apart and never trusted. Throws `invalid_log_data`
 * when malformed, `log_signature_invalid` when a known signature fails or none is known.
 */
export function openNote(note: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  const { text, signatures } = splitNote(note);
  const bytes = encoder.encode(text);
  const verified: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  const seen = new Set<string>();
  for (const sig of signatures) {
    const id = `${sig.name}+${keyIdHex(sig.keyId)}`;
    const verifier = verifiers.find((v) => v.name === sig.name && v.keyId === sig.keyId);
    if (verifier === undefined) {
      if (!unverified.some((u) => u.line === sig.line)) unverified.push(sig);
      continue;
    }
    // signed-note: a known key's signature MUST be verified, a repeated one too; it then counts once.
    if (!verifier.verify(bytes, sig.signature)) throw new EnclaveError('log_signature_invalid', `the signature by ${sig.name} (key ${keyIdHex(sig.keyId)}) does not verify`);
    if (seen.has(id)) continue;
    seen.add(id);
    verified.push(sig);
  }
  if (verified.length === 0) {
    const known = verifiers.map((v) => `${v.name}+${keyIdHex(v.keyId)}`).join(', ');
    throw new EnclaveError('log_signature_invalid', `the note carries no signature by a trusted key (trusted: ${known || 'none'})`);
  }
  return { text, verified, unverified };
}
