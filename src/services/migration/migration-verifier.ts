// `enclave migrate verify`: proves the copy. Every migrating source row is read again and digested
// (HMAC-SHA256 over its canonical record form, RFC 8785), every record it became is read back through
// the vault (decrypted) and digested the same way, and both sequences are folded into RFC 9162 Merkle
// roots per table, in the source's key order. Every difference is listed by table and key: a row
// missing at the destination, a record whose content differs (the source changed after it was copied),
// a record whose source row is gone, a row that should move but cannot. Mismatched rows are marked in
// the ledger so the next run copies them again.
import { randomBytes } from 'node:crypto';
import { EnclaveError } from '../../core/errors.ts';
import { MerkleBuilder, merkleRoot } from '../../core/migration-merkle.ts';
import { canonicalRecord, decodeKey, keyOf, rowDigest } from '../../core/migration-row.ts';
import type { ResolvedTable } from '../../core/migration-mapping.ts';
import type { KeyTuple } from '../../core/migration-source.ts';
import type { LedgerEntry, Mismatch, TableVerification, VerificationInfo } from '../../core/migration-state.ts';
import type { MigrationContext } from './migration-context.ts';
import { erasedIn, registeredSubjects, residencyConflicts } from './residency-check.ts';

export interface VerifyProgress {
  readonly done: number;
  readonly total: number;
  readonly mismatches: number;
}

export async function verifyMigration(ctx: MigrationContext, onProgress: (p: VerifyProgress) => void = () => {}): Promise<VerificationInfo> {
  const m = await ctx.migration();
  if (m.passState !== 'done') {
    throw new EnclaveError('migration_incomplete', `migration "${ctx.name}" is in the middle of pass ${m.pass} (${m.passState}); run it to the end before verifying`);
  }
  const key = ctx.digestKey();
  ctx.begin();
  const id = `v-${randomBytes(8).toString('hex')}`;
  const startedAt = ctx.clock();
  let total = 0;
  for (const t of ctx.resolved.tables) total += await ctx.source.count(t.table);
  let done = 0;
  let mismatchCount = 0;
  const tables: TableVerification[] = [];

  const digestOf = async (t: ResolvedTable, collection: string, recordId: string, k: KeyTuple): Promise<Buffer | string> => {
    try {
      const view = await ctx.enclave.vault.getRecord(ctx.principal, collection, recordId);
      return rowDigest(key, canonicalRecord(t.table, k, { collection, id: view.id, subject: view.subject, data: view.data }));
    } catch (err) {
      if (err instanceof EnclaveError && (err.code === 'record_not_found' || err.code === 'subject_erased' || err.code === 'integrity_error')) return err.code;
      throw err;
    }
  };

  // Per table, whether the destination root equals the root of the source rows not erased.
  const matched: boolean[] = [];
  for (const t of ctx.resolved.tables) {
    const source = new MerkleBuilder();
    const copied = new MerkleBuilder();
    const destination = new MerkleBuilder();
    let mismatches = 0;
    let erased = 0;
    const report = async (list: Mismatch[], invalidate: LedgerEntry[]) => {
      mismatches += list.length;
      mismatchCount += list.length;
      await ctx.state.putMismatches(id, list);
      // The next run re-copies these rows whatever their digest says; a row a newer pass rewrote (or a
      // sweep removed) since it was read here is left as that pass left it.
      await ctx.state.invalidateLedger(ctx.name, invalidate);
    };
    let after: KeyTuple | undefined;
    for (;;) {
      const page = await ctx.source.read({ table: t.table, columns: t.columns, key: t.key, after, limit: ctx.batchSize });
      const last = page.at(-1);
      if (!last) break;
      const rows = await ctx.classifier.classify(t, page, ctx.source, ctx.name);
      const ledger = await ctx.state.ledger(ctx.name, t.table, rows.filter((r) => r.kind !== 'stay').map((r) => r.encodedKey));
      const found: Mismatch[] = [];
      const invalidate: LedgerEntry[] = [];
      // The page's records are read at once: each read is logged before its data leaves the store, and
      // reads awaited together share the log's commits instead of waiting for one each.
      const read = new Map<string, Buffer | string>();
      const moving = rows.filter((r) => r.kind === 'migrating');
      let registered = await registeredSubjects(ctx, moving);
      // A row whose own subject is erased (erasedIn) is not a mismatch, which would block every purge of
      // the migration for good (no run can copy it). Any other record found erased is a mismatch.
      await Promise.all(moving.filter((r) => !erasedIn(registered, r.record.subject)).map(async (r) => read.set(r.encodedKey, await digestOf(t, r.record.collection, r.record.id, r.key))));
      // A subject erased between the lookup and the read: looked up again, so it is erased, not missing.
      const erasedSince = moving.filter((r) => read.get(r.encodedKey) === 'subject_erased').map((r) => r.record.subject);
      if (erasedSince.length > 0) registered = new Map([...registered, ...(await ctx.enclave.router.findSubjects(erasedSince))]);
      const moved = await residencyConflicts(ctx, moving, registered);
      for (const r of rows) {
        if (r.kind === 'stay') continue;
        const entry = ledger.get(r.encodedKey);
        if (r.kind === 'refused') {
          found.push({ table: t.table, key: r.encodedKey, kind: 'refused', detail: r.code });
          continue;
        }
        const sd = rowDigest(key, canonicalRecord(t.table, r.key, r.record));
        source.add(sd);
        if (erasedIn(registered, r.record.subject)) {
          erased += 1;
          continue;
        }
        copied.add(sd);
        const dd = read.get(r.encodedKey) ?? 'record_not_found';
        if (typeof dd === 'string') {
          found.push({ table: t.table, key: r.encodedKey, kind: 'missing', detail: dd });
          if (entry) invalidate.push(entry);
          continue;
        }
        destination.add(dd);
        const why = moved.get(r.encodedKey);
        if (why !== undefined) found.push({ table: t.table, key: r.encodedKey, kind: 'moved', detail: why });
        else if (!dd.equals(sd)) {
          found.push({ table: t.table, key: r.encodedKey, kind: 'changed', detail: 'the record differs from its source row' });
          if (entry) invalidate.push(entry);
        }
      }
      await ctx.state.stampLedger(ctx.name, t.table, [...ledger.keys()], id);
      await report(found, invalidate);
      done += page.length;
      onProgress({ done, total, mismatches: mismatchCount });
      if (page.length < ctx.batchSize) break;
      after = keyOf(last, t.key, t.table);
    }
    // Records of this migration whose source rows were not met above: gone, or no longer moving.
    let records = destination.size;
    for (let from: string | null = null; ; ) {
      const extras = await ctx.state.unstamped(ctx.name, t.table, id, ctx.batchSize, from);
      const lastExtra = extras.at(-1);
      if (!lastExtra) break;
      const found: Mismatch[] = [];
      const owners = await ctx.enclave.router.findSubjects(extras.map((e) => e.subject));
      const read = await Promise.all(extras.map((e) => digestOf(t, e.collection, e.recordId, decodeKey(e.key))));
      for (const [i, e] of extras.entries()) {
        // A record written for a subject erased since, whose source row is gone: nothing is left either side.
        if (erasedIn(owners, e.subject)) continue;
        const dd = read[i] ?? 'record_not_found';
        if (typeof dd !== 'string') {
          destination.add(dd);
          records += 1;
        }
        found.push({ table: t.table, key: e.key, kind: 'extra', detail: typeof dd === 'string' ? dd : 'the source no longer holds this row for a moving subject' });
      }
      await report(found, []);
      from = lastExtra.key;
    }
    const destinationRoot = destination.root().toString('hex');
    matched.push(copied.root().toString('hex') === destinationRoot);
    tables.push({
      table: t.table,
      collection: t.collection.name,
      rows: source.size,
      sourceRoot: source.root().toString('hex'),
      erased,
      records,
      destinationRoot,
      mismatches,
    });
  }
  const root = merkleRoot(tables.map((t) => Buffer.from(t.sourceRoot, 'hex'))).toString('hex');
  const ok = mismatchCount === 0 && matched.every(Boolean);
  const info: VerificationInfo = { id, migration: ctx.name, pass: m.pass, startedAt, finishedAt: ctx.clock(), ok, tables, root, mismatches: mismatchCount };
  await ctx.state.saveVerification(info);
  await ctx.record('migration.verified', {
    verification: id,
    pass: m.pass,
    ok,
    root,
    mismatches: mismatchCount,
    tables: tables.map((x) => ({ table: x.table, rows: x.rows, ...(x.erased > 0 ? { erased: x.erased } : {}), source_root: x.sourceRoot, destination_root: x.destinationRoot })),
  });
  return info;
}
