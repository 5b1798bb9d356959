// `enclave migrate purge`: deletes the migrated rows at the source, only as verified. In one source
// transaction that locks out writers, each table is read again: the rows that move are digested into a
// Merkle root that must equal the verified one (same rows, same content, same order), and deleted; the
// rows that stay are digested as they are. Then the table is read once more: what remains must be
// exactly the rows that stay (same count, same root), so no row of a purged subject remains and no
// other row was touched. Any difference rolls everything back. After the commit the engine scrubs its
// files, and a signed deletion certificate is issued and appended to the transparency log.
import { verifyCertificate } from '../../core/deletion-certificate.ts';
import { EnclaveError } from '../../core/errors.ts';
import { MerkleBuilder, merkleRoot } from '../../core/migration-merkle.ts';
import { canonicalRecord, canonicalSourceRow, keyOf, rowDigest, showKey } from '../../core/migration-row.ts';
import type { ResolvedTable } from '../../core/migration-mapping.ts';
import type { KeyTuple, MigrationSource, ScrubReport, SourceReader, SourceTransaction } from '../../core/migration-source.ts';
import { danglingRefusal, deleteEffectsRefusal, deleteHazardsRefusal } from '../../core/purge-foreign-keys.ts';
import type { CertificateInfo, PendingPurge, PurgedTableState, VerificationInfo } from '../../core/migration-state.ts';
import type { MigrationContext } from './migration-context.ts';
import { issueCertificate, logCertificate, publishVerifierKey } from './certificate-issuer.ts';
import { erasedIn, registeredSubjects, residencyConflicts } from './residency-check.ts';
import { lostCopies } from './vault-copies.ts';
import type { Classified } from './row-classifier.ts';

/** A purged table once the remaining rows were read back. */
export type PurgedTable = Omit<PurgedTableState, 'keptAfter'> & { readonly keptAfter: string };

/** keptAfter is null until the remaining rows were read back (inside the transaction or after it). */
type Purged = PurgedTableState;

export interface PurgeReport {
  readonly migration: string;
  readonly verification: string;
  readonly tables: readonly PurgedTable[];
  readonly certificate: CertificateInfo;
  readonly logIndex: number | null;
}

export interface PurgeProgress {
  readonly table: string;
  readonly done: number;
}

/**
 * Why a purge of these tables would be refused as the source's schema stands: foreign keys that would
 * change rows of unmapped tables, triggers or rules that run on DELETE, tables that cannot roll back.
 */
export async function purgeRefusal(source: MigrationSource, tables: readonly string[]): Promise<string | undefined> {
  return deleteEffectsRefusal(await source.foreignKeys(), tables) ?? deleteHazardsRefusal(await source.deleteHazards(tables));
}

function refuse(message: string): EnclaveError {
  return new EnclaveError('purge_refused', message);
}

/** The verification a purge is bound to: the migration's latest, successful, and of its current pass. */
async function boundVerification(ctx: MigrationContext, requested: string | undefined): Promise<VerificationInfo> {
  const m = await ctx.migration();
  if (m.passState !== 'done') throw new EnclaveError('not_verified', `migration "${ctx.name}" is in the middle of pass ${m.pass}; run it to the end and verify before purging`);
  const latest = await ctx.state.latestVerification(ctx.name);
  if (!latest) throw new EnclaveError('not_verified', `migration "${ctx.name}" has never been verified; run \`enclave migrate verify\` first`);
  if (requested !== undefined && requested !== latest.id) {
    throw new EnclaveError('not_verified', `verification ${requested} is not the latest of migration "${ctx.name}" (${latest.id}); a purge is bound to the latest`);
  }
  if (!latest.ok) throw new EnclaveError('not_verified', `the latest verification of "${ctx.name}" (${latest.id}) found ${latest.mismatches} mismatch(es); run again, then verify`);
  const done = (await ctx.state.certificates(ctx.name)).find((c) => c.verification === latest.id);
  if (done) throw new EnclaveError('purge_refused', `verification ${latest.id} of "${ctx.name}" was already purged (certificate ${done.id}); run and verify again to purge rows copied since`);
  if (latest.pass !== m.pass) throw new EnclaveError('not_verified', `migration "${ctx.name}" ran again (pass ${m.pass}) after its latest verification (pass ${latest.pass}); verify again`);
  const names = ctx.resolved.tables.map((t) => t.table);
  if (latest.tables.length !== names.length || latest.tables.some((t, i) => t.table !== names[i])) {
    throw new EnclaveError('not_verified', `verification ${latest.id} covered other tables than the mapping names; verify again`);
  }
  return latest;
}

/** Digest of every remaining row of a table (whole rows, as the source holds them), in key order. */
async function keptRoot(ctx: MigrationContext, reader: SourceReader, t: ResolvedTable): Promise<{ rows: number; root: string }> {
  const key = ctx.digestKey();
  const tree = new MerkleBuilder();
  let after: KeyTuple | undefined;
  for (;;) {
    const page = await reader.read({ table: t.table, columns: t.allColumns, key: t.key, after, limit: ctx.batchSize });
    const last = page.at(-1);
    if (!last) break;
    for (const row of page) tree.add(rowDigest(key, canonicalSourceRow(t.table, row, t.allColumns)));
    if (page.length < ctx.batchSize) break;
    after = keyOf(last, t.key, t.table);
  }
  return { rows: tree.size, root: tree.root().toString('hex') };
}

/** The rows of a table the purge would delete (as records) and keep (whole rows), digested in key order; `onMoving` gets each page's moving keys. */
async function digestTable(
  ctx: MigrationContext,
  reader: SourceReader,
  t: ResolvedTable,
  onMoving: (keys: KeyTuple[], done: number) => Promise<void>,
  checkMoving: (rows: Extract<Classified, { kind: 'migrating' }>[]) => Promise<void> = () => Promise.resolve(),
): Promise<{ purged: MerkleBuilder; kept: MerkleBuilder }> {
  const key = ctx.digestKey();
  const purged = new MerkleBuilder();
  const kept = new MerkleBuilder();
  const columns = [...new Set([...t.allColumns, ...t.columns])];
  let after: KeyTuple | undefined;
  for (;;) {
    const page = await reader.read({ table: t.table, columns, key: t.key, after, limit: ctx.batchSize });
    const last = page.at(-1);
    if (!last) break;
    const moving: KeyTuple[] = [];
    const classified = await ctx.classifier.classify(t, page, reader, ctx.name);
    await checkMoving(classified.filter((r) => r.kind === 'migrating'));
    for (const r of classified) {
      if (r.kind === 'refused') throw refuse(`table ${t.table}, key ${showKey(r.key)}: a row of a moving subject cannot be migrated (${r.code}); nothing was deleted`);
      if (r.kind === 'stay') kept.add(rowDigest(key, canonicalSourceRow(t.table, r.row, t.allColumns)));
      else {
        purged.add(rowDigest(key, canonicalRecord(t.table, r.key, r.record)));
        moving.push(r.key);
      }
    }
    await onMoving(moving, purged.size + kept.size);
    if (page.length < ctx.batchSize) break;
    after = keyOf(last, t.key, t.table);
  }
  return { purged, kept };
}

/** A purge on record as about to commit, and the tables whose source does not hold its end state. */
export interface InterruptedPurge {
  readonly pending: PendingPurge;
  /** Empty when the source committed the purge whole: it is to be finished. */
  readonly unpurged: readonly string[];
  /** The certificate issued for it, stored but not yet in the transparency log. */
  readonly certificate?: CertificateInfo;
}

/**
 * A purge on record whose certificate was not issued. One marked committed (the source's commit returned,
 * PendingPurge.committedAt) is returned to be finished as it is: its transaction checked the rows that
 * stay before it committed, and a live source may have changed them since, which says nothing about the
 * purge. One not marked (about to commit, or the process died between the commit and the mark) is judged
 * by the source: if it now holds exactly the rows that were to stay, the commit happened and the purge is
 * returned to be finished. It is dropped only when every row it was to delete is still at the source as
 * verified (it never committed): otherwise its records would be taken for deleted rows and swept. Anything
 * between is returned with the tables that differ.
 */
export async function interruptedPurge(ctx: MigrationContext): Promise<InterruptedPurge | undefined> {
  const pending = await ctx.state.pendingPurge(ctx.name);
  if (!pending) return undefined;
  // Certified already (the process died just before forgetting it, or the certificate's log entry failed).
  const certified = (await ctx.state.certificates(ctx.name)).find((c) => c.verification === pending.verification);
  if (certified) {
    // Not in the log yet: the purge stays on record until a purge appends the entry (logStoredCertificate).
    if (certified.logIndex === null && ctx.log !== undefined) return { pending, unpurged: [], certificate: certified };
    await ctx.state.clearPendingPurge(ctx.name);
    return undefined;
  }
  if (pending.committedAt !== undefined) return { pending, unpurged: [] };
  const unpurged: string[] = [];
  for (const p of pending.tables) {
    const now = await keptRoot(ctx, ctx.source, ctx.table(p.table));
    if (now.rows !== p.kept || now.root !== p.keptBefore) unpurged.push(p.table);
  }
  if (unpurged.length === 0) return { pending, unpurged };
  for (const p of pending.tables) {
    if (p.purged === 0) continue;
    // A row that cannot be digested now (refused) proves nothing either way.
    const now = await digestTable(ctx, ctx.source, ctx.table(p.table), () => Promise.resolve()).catch((err: unknown) => {
      if (err instanceof EnclaveError && err.code === 'purge_refused') return undefined;
      throw err;
    });
    if (!now || now.purged.size !== p.purged || now.purged.root().toString('hex') !== p.purgedRoot) return { pending, unpurged };
  }
  await ctx.state.clearPendingPurge(ctx.name);
  return undefined;
}

/**
 * Refuses to go on while an interrupted purge, not known to have committed, matches the source neither as
 * committed nor as never committed. Which one happened is not known, so the message does not guess.
 */
export function partialPurge(ctx: MigrationContext, i: InterruptedPurge): EnclaveError {
  return new EnclaveError(
    'purge_partial',
    `a purge of migration "${ctx.name}" (verification ${i.pending.verification}) was interrupted before it was recorded as committed, and the source matches it neither as committed nor as not committed: in ${i.unpurged.join(', ')} the rows that stay are not exactly those the purge found, and not every row it was to delete is there as verified. Whether the source committed it is not known (rows may have changed since, either way). It stays on record, so no record is swept from the vault and nothing is certified; \`run\` and \`purge\` refuse until the source holds every row the purge was to delete as verified (the purge is then dropped) or exactly the rows that stay as the purge found them (it is then finished)`,
  );
}

export async function purgeMigration(ctx: MigrationContext, options: { verification?: string; onProgress?: (p: PurgeProgress) => void } = {}): Promise<PurgeReport> {
  ctx.digestKey(); // fails now, not mid-purge, if the enclave is sealed
  ctx.begin();
  // Tables that refer to the subjects first: their rows find their subjects through the users table,
  // which therefore goes last.
  const order = [...ctx.resolved.tables.filter((t) => t.subject.kind !== 'self'), ...ctx.resolved.tables.filter((t) => t.subject.kind === 'self')];
  // A purge killed after the source committed but before its certificate was issued is finished first.
  const interrupted = await interruptedPurge(ctx);
  if (interrupted) {
    if (interrupted.unpurged.length > 0) throw partialPurge(ctx, interrupted);
    const { pending } = interrupted;
    const verified = await ctx.state.verification(pending.verification);
    if (!verified) throw new EnclaveError('internal', `the interrupted purge refers to verification ${pending.verification}, which is not recorded`);
    if (interrupted.certificate) return logStoredCertificate(ctx, verified, pending, interrupted.certificate);
    // Not marked, but the source holds exactly what the purge left: it committed, and is marked so now,
    // before a scrub that may fail again. When it committed is not known: the time it was prepared stands for it.
    const committed = pending.committedAt === undefined ? await markCommitted(ctx, pending, pending.preparedAt) : { ...pending, committedAt: pending.committedAt };
    // The rows that stay were checked as they were when the source committed (inside the transaction, read
    // back before the mark, or found so by interruptedPurge).
    return finish(ctx, verified, pending.tables.map((p) => ({ ...p, keptAfter: p.keptBefore })), committed, order);
  }
  const verification = await boundVerification(ctx, options.verification);
  const onProgress = options.onProgress ?? (() => {});
  const startedAt = ctx.clock();

  const purgeTable = async (tx: SourceTransaction, t: ResolvedTable): Promise<Purged> => {
    const verified = verification.tables.find((v) => v.table === t.table);
    if (!verified) throw refuse(`table ${t.table} was not verified`);
    let erased = 0;
    const { purged: purgedTree, kept: keptTree } = await digestTable(
      ctx,
      tx,
      t,
      async (moving, done) => {
        if (moving.length > 0) await tx.delete(t.table, t.key, moving);
        onProgress({ table: t.table, done });
      },
      // The record digests do not cover where a record lives: a subject whose country at the source now
      // maps to another home site than the one their copies are at (verify's `moved`) is refused here too.
      async (rows) => {
        // The rows' registrations, looked up once for both checks.
        const registered = await registeredSubjects(ctx, rows);
        erased += rows.filter((r) => erasedIn(registered, r.record.subject)).length;
        const moved = await residencyConflicts(ctx, rows, registered);
        const first = moved.values().next();
        if (first.done !== true) throw refuse(`table ${t.table}: ${moved.size} row(s) of subjects who moved since verification ${verification.id}: ${first.value}; then run, verify and purge again. Nothing was deleted`);
        // A copy deleted since the verification (through the API, or lost by its store) leaves the row
        // the only copy of its data; an erased subject's rows go, as the erasure wants.
        const lost = await lostCopies(ctx, rows, registered);
        const [key, why] = lost.entries().next().value ?? [];
        if (key !== undefined) {
          throw refuse(
            `table ${t.table}: ${lost.size} row(s) whose copy verification ${verification.id} found is no longer in the vault (key ${key}: ${why}), so the source holds the only copy. \`enclave migrate verify\` lists them (missing) and has the next run copy them again; or, if that deletion was meant, delete those rows at the source too; then run, verify and purge again. Nothing was deleted`,
          );
        }
      },
    );
    const purgedRoot = purgedTree.root().toString('hex');
    if (purgedTree.size !== verified.rows || purgedRoot !== verified.sourceRoot) {
      throw refuse(`table ${t.table} changed since verification ${verification.id} (${purgedTree.size} moving rows now, ${verified.rows} verified; roots ${purgedRoot === verified.sourceRoot ? 'equal' : 'differ'}); run, verify and purge again. Nothing was deleted`);
    }
    return { table: t.table, collection: t.collection.name, purged: purgedTree.size, purgedRoot, erased, kept: keptTree.size, keptBefore: keptTree.root().toString('hex'), keptAfter: null };
  };

  /** Each table's remaining rows, digested again, must be those verified as staying; `differ` says what then. */
  const recheckKept = async (reader: SourceReader, out: readonly Purged[], differ: (p: Purged, rows: number) => EnclaveError): Promise<PurgedTable[]> => {
    const checked: PurgedTable[] = [];
    for (const p of out) {
      const after = await keptRoot(ctx, reader, ctx.table(p.table));
      if (after.rows !== p.kept || after.root !== p.keptBefore) throw differ(p, after.rows);
      checked.push({ ...p, keptAfter: after.root });
    }
    return checked;
  };

  const purgedTables = order.map((t) => t.table);
  const pending = await ctx.source.transaction(
    purgedTables,
    async (tx) => {
      // Checked with the tables locked, before the first delete: the engine must delete exactly the verified rows.
      const refusal = await purgeRefusal(ctx.source, purgedTables);
      if (refusal !== undefined) throw refuse(`${refusal}; then purge again. Nothing was deleted`);
      const dangling = await tx.danglingReferences?.(purgedTables);
      let out: Purged[] = [];
      for (const t of order) out.push(await purgeTable(tx, t));
      // Once all deletes are done: a cascade from a later table's deletes (a foreign key between two
      // mapped tables) changes an earlier one's.
      if (tx.readsOwnDeletes) {
        out = await recheckKept(tx, out, (p, rows) =>
          refuse(`table ${p.table}: after deleting, ${rows} rows remain where ${p.kept} rows that stay were expected (or their content differs: a foreign key may cascade into it from another purged table); nothing was deleted`),
        );
      }
      const after = await tx.danglingReferences?.(purgedTables);
      const left = dangling !== undefined && after !== undefined ? danglingRefusal(dangling, after, purgedTables) : undefined;
      if (left !== undefined) throw refuse(`${left}; then purge again. Nothing was deleted`);
      // Recorded before the source commits: if the process dies after the commit, the next purge
      // recognises the purged source and issues the certificate.
      const recorded: PendingPurge = { migration: ctx.name, verification: verification.id, startedAt, preparedAt: ctx.clock(), tables: out, sourceSettings: ctx.source.settingsBefore() };
      await ctx.state.savePendingPurge(recorded);
      return recorded;
    },
  );
  const committedAt = ctx.clock();
  const purged = pending.tables;
  // Sources whose transaction cannot see its own deletes (files) are re-read after the commit.
  const checked = (p: Purged): p is PurgedTable => p.keptAfter !== null;
  const done = purged.every(checked)
    ? purged
    : await recheckKept(ctx.source, purged, (p, rows) => new EnclaveError('internal', `table ${p.table}: the purge committed, but a re-read finds ${rows} rows where ${p.kept} were expected; check the source`));
  return finish(ctx, verification, done, await markCommitted(ctx, { ...pending, tables: done }, committedAt), order);
}

/**
 * Records that the source committed the purge, once what stays was checked as committed: a scrub that
 * fails after it leaves a purge the next one finishes, whatever the live source changed meanwhile (rows
 * that stay, changed by the legacy application, no longer match what the purge found, and would make the
 * purge look undone). A process that dies before the mark leaves it to the source checks of interruptedPurge.
 */
async function markCommitted(ctx: MigrationContext, pending: PendingPurge, committedAt: number): Promise<CommittedPurge> {
  const committed = { ...pending, committedAt };
  try {
    // Not on record any more (another process took it for a purge that never committed, having read the
    // source before the commit): recorded again, so no run sweeps the records of the rows it deleted.
    if (!(await ctx.state.markPurgeCommitted(ctx.name, pending.verification, committedAt))) await ctx.state.savePendingPurge(committed);
    return committed;
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new EnclaveError('purge_pending', `the source committed the purge of "${ctx.name}", but the migration state could not record it: ${why}. No certificate was issued; run \`enclave migrate purge\` again to finish it`, { cause });
  }
}

/** A pending purge marked committed at the source. */
type CommittedPurge = PendingPurge & { readonly committedAt: number };

/** After the commit: scrub, log, certify. */
async function finish(ctx: MigrationContext, verification: VerificationInfo, tables: readonly PurgedTable[], pending: CommittedPurge, order: readonly ResolvedTable[]): Promise<PurgeReport> {
  // First of all: the copied rows are gone from the source for good, so no later pass may take their
  // absence for a deletion and sweep their records from the vault.
  await ctx.state.clearLedger(ctx.name);
  let scrub: ScrubReport;
  try {
    scrub = await ctx.source.scrub(order.map((t) => t.table), pending.sourceSettings ?? {});
  } catch (cause) {
    // The pending purge stays on record, marked committed, so the next purge scrubs again and certifies, whatever the live source changed since.
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new EnclaveError('purge_pending', `the source committed the purge of "${ctx.name}", but its scrub did not complete: ${why}. No certificate was issued; run \`enclave migrate purge\` again to finish it`, { cause });
  }
  const scrubbedAt = ctx.clock();
  // Back in mapping order for the certificate and its root.
  const inOrder = ctx.resolved.tables.map((t) => tables.find((p) => p.table === t.table)).filter((p): p is PurgedTable => p !== undefined);
  const root = merkleRoot(inOrder.map((p) => Buffer.from(p.purgedRoot, 'hex'))).toString('hex');
  if (root !== verification.root) throw new EnclaveError('internal', 'the purged set\'s root differs from the verified root although every table matched');
  const subjects = inOrder.find((p) => p.table === ctx.resolved.subjects.table)?.purged ?? 0;
  const logIndex = await logPurgedOnce(ctx, pending.verification, {
    root,
    purged_rows: inOrder.reduce((n, p) => n + p.purged, 0),
    kept_rows: inOrder.reduce((n, p) => n + p.kept, 0),
    subjects,
    engine: scrub.engine,
  });
  const certificate = await issueCertificate(ctx, { verification, tables: inOrder, root, subjects, scrub, startedAt: pending.startedAt, committedAt: pending.committedAt, scrubbedAt });
  await ctx.state.clearPendingPurge(ctx.name);
  return { migration: ctx.name, verification: verification.id, tables: inOrder, certificate, logIndex };
}

/**
 * Appends the purge's `migration.purged` entry once per purge: its index is kept with the pending purge,
 * so a purge finished again (its certificate not issued, or not logged, the first time) reuses it
 * instead of telling the audit log of a second deletion. A process that dies between the append and
 * that record still leaves the entry to be appended again: the log cannot be asked from here.
 */
async function logPurgedOnce(ctx: MigrationContext, verification: string, details: { readonly root: string; readonly purged_rows: number; readonly kept_rows: number; readonly subjects: number; readonly engine: string }): Promise<number | null> {
  // The pending purge as stored, not as this process holds it: its commit time is the first one marked
  // (markPurgeCommitted keeps it), and another purge may have replaced it meanwhile.
  const stored = await ctx.state.pendingPurge(ctx.name);
  const bound = stored?.verification === verification ? stored : undefined;
  if (bound?.purgedLogIndex !== undefined) return bound.purgedLogIndex;
  const index = await ctx.record('migration.purged', { verification, ...details });
  if (index !== null && bound) await ctx.state.savePendingPurge({ ...bound, purgedLogIndex: index });
  return index;
}

/**
 * A purge certified, whose certificate is stored but whose log entry failed: the stored certificate
 * (never a second one) is logged now, and the purge too unless its entry was appended the first time,
 * with the figures the certificate signs.
 */
async function logStoredCertificate(ctx: MigrationContext, verification: VerificationInfo, pending: PendingPurge, stored: CertificateInfo): Promise<PurgeReport> {
  const body = verifyCertificate(stored.note, await publishVerifierKey(ctx.enclave)).certificate;
  const logIndex = await logPurgedOnce(ctx, pending.verification, {
    root: body.root,
    purged_rows: body.totals.purged_rows,
    kept_rows: body.totals.kept_rows,
    subjects: body.totals.subjects,
    engine: body.method.engine,
  });
  const certificate = await logCertificate(ctx, stored, body);
  await ctx.state.clearPendingPurge(ctx.name);
  const tables = body.tables.map((t) => ({ table: t.table, collection: t.collection, purged: t.purged_rows, purgedRoot: t.purged_root, erased: t.erased_rows ?? 0, kept: t.kept_rows, keptBefore: t.kept_root_before, keptAfter: t.kept_root_after }));
  return { migration: ctx.name, verification: verification.id, tables, certificate, logIndex };
}
