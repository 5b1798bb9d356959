// Signs deletion certificates with the enclave's certificate key: Ed25519, derived from the root key
// (HKDF label "certificates/ed25519/v1"), so it exists only while the enclave is unsealed and is the same
// after every unseal. Its verifier key is published in the control store the first time it is used,
// where `enclave migrate certificate --public-key` (and anyone the operators hand it to) reads it.
import { CERTIFICATE_TYPE, formatVkey, keyName, signCertificate, type DeletionCertificate } from '../../core/deletion-certificate.ts';
import { EnclaveError } from '../../core/errors.ts';
import type { ScrubReport } from '../../core/migration-source.ts';
import type { CertificateInfo, VerificationInfo } from '../../core/migration-state.ts';
import { formatRfc3339 } from '../../core/rfc3339.ts';
import type { MetaStore } from '../../core/store.ts';
import type { KeyObject } from 'node:crypto';
import { ed25519PrivateKey, rawPublicKey } from '../../core/tlog/ed25519.ts';
import type { Enclave } from '../enclave.ts';
import type { MigrationContext } from './migration-context.ts';
import type { PurgedTable } from './migration-purger.ts';

export const CERTIFICATE_KEY_LABEL = 'certificates/ed25519/v1';
export const VKEY_META = 'certificate_vkey';

function certificateKey(enclave: Enclave): { privateKey: KeyObject; vkey: string } {
  const seed = enclave.keyring.derive(CERTIFICATE_KEY_LABEL);
  try {
    const privateKey = ed25519PrivateKey(seed);
    return { privateKey, vkey: formatVkey(keyName(enclave.config.name), rawPublicKey(privateKey)) };
  } finally {
    seed.fill(0);
  }
}

/** The certificate verifier key, published in the control store (needs the enclave unsealed the first time). */
export async function publishVerifierKey(enclave: Enclave): Promise<string> {
  const { vkey } = certificateKey(enclave);
  await enclave.control.meta.putIfAbsent(VKEY_META, vkey);
  const stored = await enclave.control.meta.get(VKEY_META);
  if (stored !== vkey) throw new EnclaveError('integrity_error', 'the published certificate key is not the one this root key derives');
  return vkey;
}

/** The published verifier key, if a certificate was ever issued (no unsealing needed). */
export async function publishedVerifierKey(meta: MetaStore): Promise<string | undefined> {
  return meta.get(VKEY_META);
}

export async function issueCertificate(
  ctx: MigrationContext,
  facts: {
    readonly verification: VerificationInfo;
    readonly tables: readonly PurgedTable[];
    readonly root: string;
    readonly subjects: number;
    readonly scrub: ScrubReport;
    readonly startedAt: number;
    readonly committedAt: number;
    readonly scrubbedAt: number;
  },
): Promise<CertificateInfo> {
  const { enclave } = ctx;
  const key = certificateKey(enclave);
  await publishVerifierKey(enclave);
  const { mapping } = ctx.resolved;
  const body: DeletionCertificate = {
    type: CERTIFICATE_TYPE,
    enclave: enclave.config.name,
    migration: ctx.name,
    source: { kind: ctx.source.kind, location: ctx.source.location, site: mapping.source.site ?? null },
    jurisdictions: [...ctx.resolved.jurisdictions].sort(),
    verification: { id: facts.verification.id, finished_at: formatRfc3339(facts.verification.finishedAt) },
    tables: facts.tables.map((t) => ({
      table: t.table,
      collection: t.collection,
      purged_rows: t.purged,
      purged_root: t.purgedRoot,
      ...(t.erased > 0 ? { erased_rows: t.erased } : {}),
      kept_rows: t.kept,
      kept_root_before: t.keptBefore,
      kept_root_after: t.keptAfter,
    })),
    totals: { purged_rows: facts.tables.reduce((n, t) => n + t.purged, 0), kept_rows: facts.tables.reduce((n, t) => n + t.kept, 0), subjects: facts.subjects },
    root: facts.root,
    digests: {
      row: 'HMAC-SHA256 over the row\'s RFC 8785 canonical JSON, under a key derived for this migration (disclosable to an auditor)',
      tree: 'RFC 9162 section 2.1.1 Merkle Tree Hash (SHA-256) over the row digests in source key order, per table; root over the tables\' roots',
    },
    method: { engine: facts.scrub.engine, steps: [...facts.scrub.steps], settings: { ...facts.scrub.settings }, limits: [...facts.scrub.limits] },
    times: { purge_started_at: formatRfc3339(facts.startedAt), purge_committed_at: formatRfc3339(facts.committedAt), scrubbed_at: formatRfc3339(facts.scrubbedAt) },
  };
  const { id, note } = signCertificate(body, keyName(enclave.config.name), key.privateKey);
  const info: CertificateInfo = { id, migration: ctx.name, verification: facts.verification.id, issuedAt: ctx.clock(), note, logIndex: null };
  // Stored first, then logged: the log never names a certificate that is not kept. A log entry that
  // fails leaves it stored and unlogged, and the purge pending, so the next purge logs this one (logCertificate).
  await ctx.state.saveCertificate(info);
  return logCertificate(ctx, info, body);
}

/** Appends a stored certificate's `certificate.issued` entry, with the figures `body` (what it signs) gives, and records its index. */
export async function logCertificate(ctx: MigrationContext, info: CertificateInfo, body: DeletionCertificate): Promise<CertificateInfo> {
  const logIndex = await ctx.record('certificate.issued', { certificate: info.id, verification: info.verification, root: body.root, purged_rows: body.totals.purged_rows });
  if (logIndex !== null) await ctx.state.setCertificateLogIndex(info.id, logIndex);
  return { ...info, logIndex };
}
