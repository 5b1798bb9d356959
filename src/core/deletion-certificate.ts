// The deletion certificate: what was purged from a legacy source, how, and when, as canonical JSON
// (RFC 8785) signed with the enclave's Ed25519 certificate key. It is a C2SP signed note (c2sp.org/
// signed-note): the note text is the canonical JSON and a newline, followed by a blank line and one
// signature line, so standard note tooling can verify it too. Anyone holding the verifier key
// (the signed-note "vkey" form, `<name>+<key id>+<base64(0x01 || public key)>`) can check it offline.
import { createHash, type KeyObject } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';
import { EnclaveError } from './errors.ts';
import { merkleRoot } from './migration-merkle.ts';
import { compile } from './schema-validator.ts';
import { ed25519NoteSigner, formatVerifierKey, isValidKeyName, keyIdHex, noteVerifier, openNote, SIG_TYPE_ED25519, signNote } from './tlog/note.ts';
import { Type, type Static } from 'typebox';

export const CERTIFICATE_TYPE = 'enclave/deletion-certificate/v1' as const;

const Hex32 = Type.String({ pattern: '^[0-9a-f]{64}$' });
const Count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Text = Type.String({ maxLength: 4096 });
const Time = Type.String({ format: 'date-time' });

export const CertificateTableSchema = Type.Object(
  {
    table: Text,
    collection: Text,
    purged_rows: Count,
    /** Root over the purged rows' digests: the verified source root (and destination root, no row being erased). */
    purged_root: Hex32,
    /**
     * Of purged_rows, those whose subject was erased in the vault: no copy of them is kept, the erasure
     * destroyed it (absent: none).
     */
    erased_rows: Type.Optional(Count),
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

// ---- keys, signing ------------------------------------------------------------------------------

function invalid(message: string): EnclaveError {
  return new EnclaveError('certificate_invalid', message);
}

/** The certificate key's name in signatures and verifier keys (a signed-note key name: no spaces, no "+"). */
export function keyName(enclaveName: string): string {
  const name = `enclave/${enclaveName.replace(/[\s+]+/g, '-')}/deletion-certificates`;
  return isValidKeyName(name) ? name : 'enclave/deletion-certificates';
}

/** The verifier key, `<name>+<key id>+base64(0x01 || public key)` (c2sp.org/signed-note). */
export function formatVkey(name: string, publicKey: Uint8Array): string {
  return formatVerifierKey(name, SIG_TYPE_ED25519, publicKey);
}

/** The certificate as signed note text: canonical JSON and a final newline. */
export function certificateText(c: DeletionCertificate): string {
  return `${canonicalJson(c)}\n`;
}

/** Ids are content addresses: the first 96 bits of SHA-256 over the note text. */
export function certificateId(text: string): string {
  return `dc-${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
}

export function signCertificate(c: DeletionCertificate, name: string, privateKey: KeyObject): { id: string; note: string } {
  const text = certificateText(c);
  return { id: certificateId(text), note: signNote(text, [ed25519NoteSigner(name, privateKey)]) };
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
  let text: string;
  let signer: string;
  let signerName: string;
  try {
    const verifier = noteVerifier(vkey);
    signerName = verifier.name;
    signer = `${verifier.name} (key id ${keyIdHex(verifier.keyId)})`;
    text = openNote(note, [verifier]).text;
  } catch (err) {
    if (!(err instanceof EnclaveError)) throw err;
    // The note code's words, under the certificate's code: malformed note or key, or a signature that fails.
    throw invalid(err.code === 'log_signature_invalid' ? `${err.message}: the certificate was altered or signed by another key` : err.message);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw invalid('the signed text is not JSON');
  }
  let canonical: string;
  try {
    canonical = canonicalJson(doc);
  } catch {
    throw invalid('the signed text is not canonical JSON (RFC 8785)');
  }
  if (`${canonical}\n` !== text) throw invalid('the signed text is not canonical JSON (RFC 8785)');
  const issue = validateCertificate.issues(doc)[0];
  if (issue) throw invalid(`not a deletion certificate: ${issue.path} ${issue.message}`);
  const c = doc as DeletionCertificate;
  // An enclave signs under its own name's key (keyName): a certificate naming another enclave than the
  // key's would pass one enclave's purge off as another's to anyone holding both keys.
  if (signerName !== keyName(c.enclave)) throw invalid(`the certificate names enclave ${JSON.stringify(c.enclave)}, but the key is ${signerName}, not that enclave's (${keyName(c.enclave)})`);
  let purged = 0;
  let kept = 0;
  for (const t of c.tables) {
    if (t.kept_root_before !== t.kept_root_after) throw invalid(`table ${t.table}: the rows that stay changed during the purge (roots before and after differ)`);
    if ((t.erased_rows ?? 0) > t.purged_rows) throw invalid(`table ${t.table}: more rows of erased subjects (${t.erased_rows}) than rows purged (${t.purged_rows})`);
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
      `Ed25519 signature by ${signer} verifies over the note text`,
      'the text is canonical JSON (RFC 8785) of a deletion certificate',
      `root = RFC 9162 Merkle Tree Hash over the ${c.tables.length} tables' purged roots`,
      'totals add up; every table\'s kept rows have equal roots before and after the purge',
    ],
  };
}
