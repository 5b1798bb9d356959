// The deletion certificate: what was purged from a legacy source, how, and when, as canonical JSON
// (RFC 8785) signed with the enclave's Ed25519 certificate key. It is a C2SP signed note (c2sp.org/
// signed-note): the note text is the canonical JSON and a newline, followed by a blank line and one
// signature line, so standard note tooling can verify it too. Anyone holding the verifier key
// (the signed-note "vkey" form, `<name>+<key id>+<base64(0x01 || public key)>`) can check it offline.
import { createHash, createPublicKey, verify as verifySignature, sign as signBytes, type KeyObject } from 'node:crypto';
import { canonicalJson, type JsonValue } from './canonical-json.ts';
import { EnclaveError } from './errors.ts';
import { merkleRoot } from './migration-merkle.ts';
import { compile } from './schema-validator.ts';
import { Type, type Static } from 'typebox';

export const CERTIFICATE_TYPE = 'enclave/deletion-certificate/v1' as const;
const ED25519 = 0x01;
// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32 key bytes follow.
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

const Hex32 = Type.String({ pattern: '^[0-9a-f]{64}$' });
const Count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Text = Type.String({ maxLength: 4096 });
const Time = Type.String({ format: 'date-time' });

export const CertificateTableSchema = Type.Object(
  {
    table: Text,
    collection: Text,
    purged_rows: Count,
    /** Root over the purged rows' digests: equal to the verified source and destination roots. */
    purged_root: Hex32,
    /** Rows that stay (other jurisdictions, no subject, no country), before and after the purge. */
    kept_rows: Count,
    kept_root_before: Hex32,
    kept_root_after: Hex32,
  },
  { additionalProperties: false },
);

export const CertificateSchema = Type.Object(
  {
    type: Type.Literal(CERTIFICATE_TYPE),
    enclave: Text,
    migration: Text,
    source: Type.Object({ kind: Text, location: Text, site: Type.Union([Text, Type.Null()]) }, { additionalProperties: false }),
    jurisdictions: Type.Array(Text, { maxItems: 1000 }),
    verification: Type.Object({ id: Text, finished_at: Time }, { additionalProperties: false }),
    tables: Type.Array(CertificateTableSchema, { minItems: 1, maxItems: 256 }),
    totals: Type.Object({ purged_rows: Count, kept_rows: Count, subjects: Count }, { additionalProperties: false }),
    /** RFC 9162 Merkle Tree Hash over the tables' purged roots, in table order. */
    root: Hex32,
    digests: Type.Object({ row: Text, tree: Text }, { additionalProperties: false }),
    method: Type.Object(
      { engine: Text, steps: Type.Array(Text, { maxItems: 100 }), settings: Type.Record(Type.String(), Text), limits: Type.Array(Text, { maxItems: 100 }) },
      { additionalProperties: false },
    ),
    times: Type.Object({ purge_started_at: Time, purge_committed_at: Time, scrubbed_at: Time }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);

export type CertificateTable = Static<typeof CertificateTableSchema>;
export type DeletionCertificate = Static<typeof CertificateSchema>;
const validateCertificate = compile(CertificateSchema);

// ---- keys ---------------------------------------------------------------------------------------

export interface VerifierKey {
  readonly name: string;
  readonly keyId: Buffer;
  readonly publicKey: Buffer;
}

/** key ID = SHA-256(key name || 0x0A || 0x01 || public key)[:4] (c2sp.org/signed-note). */
function keyIdOf(name: string, publicKey: Uint8Array): Buffer {
  return createHash('sha256').update(name).update(Buffer.of(0x0a, ED25519)).update(publicKey).digest().subarray(0, 4);
}

export function keyName(enclaveName: string): string {
  // Key names may not contain spaces or "+".
  return `enclave/${enclaveName.replace(/[\s+]+/g, '-')}/deletion-certificates`;
}

export function formatVkey(name: string, publicKey: Uint8Array): string {
  return `${name}+${keyIdOf(name, publicKey).toString('hex')}+${Buffer.concat([Buffer.of(ED25519), publicKey]).toString('base64')}`;
}

function invalid(message: string): EnclaveError {
  return new EnclaveError('certificate_invalid', message);
}

export function parseVkey(text: string): VerifierKey {
  const m = /^([^\s+]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+={0,2})$/.exec(text.trim());
  if (!m) throw invalid('the verifier key is not of the form <name>+<8 hex digits>+<base64 key>');
  const raw = Buffer.from(m[3] ?? '', 'base64');
  if (raw.length !== 33 || raw[0] !== ED25519 || raw.toString('base64') !== m[3]) throw invalid('the verifier key is not an Ed25519 key (type 0x01, 32 bytes)');
  const name = m[1] ?? '';
  const publicKey = raw.subarray(1);
  const keyId = Buffer.from(m[2] ?? '', 'hex');
  if (!keyId.equals(keyIdOf(name, publicKey))) throw invalid('the verifier key\'s id does not match its name and key');
  return { name, keyId, publicKey };
}

// ---- signing and verifying ----------------------------------------------------------------------

/** The certificate as signed note text: canonical JSON and a final newline. */
export function certificateText(c: DeletionCertificate): string {
  return `${canonicalJson(c)}\n`;
}

/** Ids are content addresses: the first 96 bits of SHA-256 over the note text. */
export function certificateId(text: string): string {
  return `dc-${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
}

export function signCertificate(c: DeletionCertificate, name: string, privateKey: KeyObject, publicKey: Uint8Array): { id: string; note: string } {
  const text = certificateText(c);
  const signature = signBytes(null, Buffer.from(text, 'utf8'), privateKey);
  const line = `\u2014 ${name} ${Buffer.concat([keyIdOf(name, publicKey), signature]).toString('base64')}\n`;
  return { id: certificateId(text), note: `${text}\n${line}` };
}

export interface CertificateCheck {
  readonly id: string;
  readonly certificate: DeletionCertificate;
  /** What was checked, for people. */
  readonly checks: readonly string[];
}


/**
 * Verifies a certificate from its note and the verifier key alone: the signature, that the text is the
 * canonical form of a certificate, and that its figures agree with each other.
 */
export function verifyCertificate(note: string, vkey: string): CertificateCheck {
  const key = parseVkey(vkey);
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw invalid('not a signed note: no blank line before the signatures');
  const text = note.slice(0, split + 1);
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) throw invalid('a signed note may not contain control characters');
  const lines = note.slice(split + 2, -1).split('\n');
  let signed = false;
  for (const line of lines) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/]+={0,2})$/.exec(line);
    if (!m) throw invalid('a signature line is malformed');
    const sig = Buffer.from(m[2] ?? '', 'base64');
    if (m[1] !== key.name || sig.length < 4 || !sig.subarray(0, 4).equals(key.keyId)) continue; // another key's signature
    const der = Buffer.concat([SPKI_PREFIX, key.publicKey]);
    const ok = sig.length === 68 && verifySignature(null, Buffer.from(text, 'utf8'), createPublicKey({ key: der, format: 'der', type: 'spki' }), sig.subarray(4));
    if (!ok) throw invalid(`the signature of ${key.name} does not verify: the certificate was altered or signed by another key`);
    signed = true;
  }
  if (!signed) throw invalid(`the certificate carries no signature by ${key.name}`);

  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw invalid('the signed text is not JSON');
  }
  if (canonicalJson(doc as JsonValue) + '\n' !== text) throw invalid('the signed text is not canonical JSON (RFC 8785)');
  const issue = validateCertificate.issues(doc)[0];
  if (issue) throw invalid(`not a deletion certificate: ${issue.path} ${issue.message}`);
  const c = doc as DeletionCertificate;
  let purged = 0;
  let kept = 0;
  for (const t of c.tables) {
    if (t.kept_root_before !== t.kept_root_after) throw invalid(`table ${t.table}: the rows that stay changed during the purge (roots before and after differ)`);
    purged += t.purged_rows;
    kept += t.kept_rows;
  }
  if (c.totals.purged_rows !== purged || c.totals.kept_rows !== kept) throw invalid('the totals do not add up to the tables\' counts');
  const root = merkleRoot(c.tables.map((t) => Buffer.from(t.purged_root, 'hex'))).toString('hex');
  if (root !== c.root) throw invalid('the root is not the Merkle Tree Hash of the tables\' purged roots');
  return {
    id: certificateId(text),
    certificate: c,
    checks: [
      `Ed25519 signature by ${key.name} (key id ${key.keyId.toString('hex')}) verifies over the note text`,
      'the text is canonical JSON (RFC 8785) of a deletion certificate',
      `root = RFC 9162 Merkle Tree Hash over the ${c.tables.length} tables' purged roots`,
      'totals add up; every table\'s kept rows have equal roots before and after the purge',
    ],
  };
}
