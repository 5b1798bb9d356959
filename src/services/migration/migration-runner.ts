// `enclave migrate run`: one pass over the source. Plan the key ranges, then claim and copy them batch by
// batch through the vault (residency, classification and sealing as any write), then sweep the records
// whose source rows are gone. Every step is idempotent and its progress durable, so a run killed at any
// moment and started again ends exactly where an uninterrupted one would:
//   - a page's ledger rows are written before its records (write-ahead: one ledger write per row), and
//     its records before the batch is marked done; a ledger row written in the current pass, or by a
//     batch that was taken back from its worker, is never taken as proof of a copy;
//   - re-copying a batch compares digests with the ledger and content with the vault, writing only what
//     differs (deterministic record ids: the same row always lands on the same record);
//   - planning and sweeping restart from scratch if interrupted (neither changes what is copied).
import { EnclaveError, type ErrorCode } from '../../core/errors.ts';
import { canonicalRecord, decodeKey, encodeKey, keyOf, rowDigest, showKey } from '../../core/migration-row.ts';
import type { KeyTuple } from '../../core/migration-source.ts';
import { addCounters, ZERO_COUNTERS, type BatchCounters, type BatchInfo, type LedgerEntry, type MigrationInfo } from '../../core/migration-state.ts';
import type { Classified } from './row-classifier.ts';
import { SUBJECT_CACHE, type MigrationContext } from './migration-context.ts';
import { holderGone, newHolderId } from '../../storage/process-alive.ts';
import { residencyConflicts } from './residency-check.ts';
import { interruptedPurge, partialPurge } from './migration-purger.ts';

export interface RunProgress {
  readonly phase: 'planning' | 'copying' | 'sweeping';
  /** Rows read in this pass so far (planning: keys scanned). */
  readonly done: number;
  /** Rows planned for this pass (planning: 0, unknown yet). */
  readonly total: number;
  readonly counters: BatchCounters;
}

export interface RefusedRow {
  readonly table: string;
  readonly key: string;
  readonly code: ErrorCode;
  readonly message: string;
}

export interface RunReport {
  readonly migration: string;
  readonly pass: number;
  /** False when batches are still held by other live workers: run again to finish the pass. */
  readonly complete: boolean;
  readonly counters: BatchCounters;
  readonly batches: number;
  /** Records removed because their source rows were gone (or no longer move). */
  readonly swept: number;
  readonly refused: readonly RefusedRow[];
  readonly ms: number;
}

// The digest of a ledger row that proves no copy (a claim the vault refused, a row carried over from an
// interrupted batch): the row's digest with a byte in front, so it never equals a row's digest and the
// row is always written again.
const PENDING = Buffer.from([0]);
const MAX_REFUSED_SHOWN = 20;
const PLAN_FLUSH = 1000;
export class MigrationRunner {
  private readonly ctx: MigrationContext;
  private readonly worker: string;
  private readonly onProgress: (p: RunProgress) => void;
  private readonly refused: RefusedRow[] = [];
  /** Subjects this run has registered or found registered (bounded: a miss only costs a vault lookup). */
  private readonly registered = new Set<string>();
  /**
   * The latest pass in which a worker's batches were taken back: its ledger rows written before batches
   * were kept with them (seenBatch null) prove no copy (copyPage).
   */
  private interrupted: number | null = null;
  /** The batches ever taken back, of each earlier pass whose ledger rows a page met (those passes are over). */
  private readonly released = new Map<number, ReadonlySet<number>>();

  constructor(ctx: MigrationContext, options: { worker?: string; onProgress?: (p: RunProgress) => void } = {}) {
    this.ctx = ctx;
    this.worker = options.worker ?? newHolderId();
    this.onProgress = options.onProgress ?? (() => {});
  }

  async run(): Promise<RunReport> {
    const started = performance.now();
    const { ctx } = this;
    ctx.digestKey(); // fails now, not mid-pass, if the enclave is sealed
    ctx.begin();
    // A purge on record and not proven undone: the rows it deleted must not be taken for rows deleted at
    // the source, whose records the sweep removes.
    const interrupted = await interruptedPurge(ctx);
    if (interrupted?.unpurged.length === 0) {
      throw new EnclaveError('purge_pending', `a purge of migration "${ctx.name}" was interrupted after the source committed it; run \`enclave migrate purge\` to finish it before running again`);
    }
    if (interrupted) throw partialPurge(ctx, interrupted);
    // Starting and planning a pass is one process's job: the others wait here, then copy beside it.
    const m = await ctx.state.exclusive(ctx.name, async () => {
      const begun = await this.start();
      if (begun.passState !== 'planning') return begun;
      await this.plan(begun.pass);
      await ctx.state.setPassState(ctx.name, begun.pass, 'copying', ctx.clock());
      return ctx.migration();
    });
    let swept = 0;
    let complete = m.passState !== 'copying' || (await this.copy(m.pass));
    // Ending the pass too: the first worker to find every batch done sweeps; the others find it done.
    let finished = false;
    if (complete) {
      complete = await ctx.state.exclusive(ctx.name, async () => {
        const now = await ctx.migration();
        if (now.pass !== m.pass) return true;
        if (now.passState === 'copying') {
          const p = await ctx.state.passProgress(ctx.name, m.pass);
          if (p.done !== p.batches) return false;
          await ctx.state.setPassState(ctx.name, m.pass, 'sweeping', ctx.clock());
        } else if (now.passState !== 'sweeping') return true;
        swept = await this.sweep(m.pass);
        await ctx.state.setPassState(ctx.name, m.pass, 'done', ctx.clock());
        finished = true;
        return true;
      });
    }
    const progress = await ctx.state.passProgress(ctx.name, m.pass);
    if (finished) {
      const c = progress.counters;
      await ctx.record('migration.run', {
        pass: m.pass,
        source: ctx.sourceLabel,
        rows_read: c.read,
        copied: c.copied,
        recopied: c.recopied,
        unchanged: c.unchanged,
        stayed: c.stayed,
        refused: c.refused,
        swept,
      });
    }
    return { migration: ctx.name, pass: m.pass, complete, counters: progress.counters, batches: progress.batches, swept, refused: this.refused, ms: performance.now() - started };
  }

  /** Creates the migration or finds it; starts a new pass after a finished one. */
  private async start(): Promise<MigrationInfo> {
    const { ctx } = this;
    const now = ctx.clock();
    await ctx.state.create({ id: ctx.name, mappingHash: ctx.resolved.mapping.hash, source: ctx.sourceLabel, createdAt: now, pass: 0, passState: 'done', passStartedAt: null, passFinishedAt: null, interruptedPass: null });
    const m = await ctx.migration();
    if (m.passState === 'done') await ctx.state.beginPass(ctx.name, m.pass, m.pass + 1, now);
    else if (m.passState === 'planning') await ctx.state.beginPass(ctx.name, m.pass, m.pass, now);
    return ctx.migration();
  }

  /** Cuts every table into key ranges of about one batch each; the last range of a table is open-ended. */
  private async plan(pass: number): Promise<void> {
    const { ctx } = this;
    let seq = 0;
    let scanned = 0;
    const pending: BatchInfo[] = [];
    const batch = (table: string, after: KeyTuple | undefined, upTo: KeyTuple | undefined, planned: number): BatchInfo => ({
      migration: ctx.name,
      pass,
      seq: seq++,
      table,
      after: after ? encodeKey(after) : null,
      upTo: upTo ? encodeKey(upTo) : null,
      planned,
      state: 'pending',
      claimedBy: null,
      claimedAt: null,
    });
    for (const t of ctx.resolved.tables) {
      let after: KeyTuple | undefined;
      // The newest range is held back until it is known whether it is the table's last.
      let held: BatchInfo | undefined;
      for (;;) {
        const page = await ctx.source.read({ table: t.table, columns: t.key, key: t.key, after, limit: ctx.batchSize });
        const end = page.at(-1);
        if (!end) break;
        if (held) pending.push(held);
        const upTo = keyOf(end, t.key, t.table);
        held = batch(t.table, after, upTo, page.length);
        scanned += page.length;
        after = upTo;
        this.onProgress({ phase: 'planning', done: scanned, total: 0, counters: ZERO_COUNTERS });
        if (pending.length >= PLAN_FLUSH) await ctx.state.addBatches(pending.splice(0));
        if (page.length < ctx.batchSize) break;
      }
      // Open-ended: rows added after planning beyond the last key are copied by this pass too.
      pending.push(held ? { ...held, upTo: null } : batch(t.table, undefined, undefined, 0));
    }
    await ctx.state.addBatches(pending.splice(0));
  }

  /**
   * Claims and copies batches until none is pending; true when every batch of the pass is done, false
   * while other live workers still hold some. Batches of workers found gone are released and copied too.
   */
  private async copy(pass: number): Promise<boolean> {
    const { ctx } = this;
    // Read once: a pass interrupted from now on is this one, whose rows prove nothing anyway.
    this.interrupted = (await ctx.migration()).interruptedPass;
    this.released.clear();
    const before = await ctx.state.passProgress(ctx.name, pass);
    let counters = before.counters;
    for (;;) {
      const now = ctx.clock();
      const gone = (await ctx.state.claims(ctx.name, pass)).filter((c) => holderGone(c.worker, now, c.claimedAt)).map((c) => c.worker);
      if (gone.length > 0) await ctx.state.releaseClaims(ctx.name, pass, gone);
      for (;;) {
        const batch = await ctx.state.claimBatch(ctx.name, pass, this.worker, ctx.clock());
        if (!batch) break;
        const c = await this.copyBatch(batch, (page) => this.onProgress({ phase: 'copying', done: counters.read + page.read, total: before.planned, counters: addCounters(counters, page) }));
        if (!(await ctx.state.completeBatch(batch, this.worker, c, ctx.clock()))) {
          throw new EnclaveError('internal', `batch ${batch.seq} of migration "${ctx.name}" was taken over by another worker while this one copied it`);
        }
        counters = addCounters(counters, c);
        this.onProgress({ phase: 'copying', done: counters.read, total: before.planned, counters });
      }
      // Done only when every batch is: a batch released back to pending meanwhile is not.
      const p = await ctx.state.passProgress(ctx.name, pass);
      if (p.done === p.batches) return true;
      const left = await ctx.state.claims(ctx.name, pass);
      if (left.length > 0 && !left.some((c) => holderGone(c.worker, ctx.clock(), c.claimedAt))) return false;
      // Otherwise a batch went back to pending, or its holder is gone: go round again.
    }
  }

  private async copyBatch(b: BatchInfo, progress: (c: BatchCounters) => void): Promise<BatchCounters> {
    const { ctx } = this;
    const t = ctx.table(b.table);
    let after = b.after === null ? undefined : decodeKey(b.after);
    const upTo = b.upTo === null ? undefined : decodeKey(b.upTo);
    let counters = ZERO_COUNTERS;
    for (;;) {
      const page = await ctx.source.read({ table: t.table, columns: t.columns, key: t.key, after, upTo, limit: ctx.batchSize });
      const last = page.at(-1);
      if (!last) break;
      const classified = await ctx.classifier.classify(t, page, ctx.source, ctx.name);
      counters = addCounters(counters, await this.copyPage(t.table, classified, b));
      progress(counters);
      if (page.length < ctx.batchSize) break;
      after = keyOf(last, t.key, t.table);
    }
    return counters;
  }

  private async copyPage(table: string, rows: readonly Classified[], batch: BatchInfo): Promise<BatchCounters> {
    const { ctx } = this;
    const { pass, seq } = batch;
    const key = ctx.digestKey();
    const migrating = rows.filter((r) => r.kind === 'migrating');
    let stayed = 0;
    let refused = 0;
    for (const r of rows) {
      if (r.kind === 'stay') stayed += 1;
      if (r.kind === 'refused') {
        refused += 1;
        this.remember({ table, key: showKey(r.key), code: r.code, message: r.message });
      }
    }
    const ledger = await ctx.state.ledger(
      ctx.name,
      table,
      rows.filter((r) => r.kind !== 'stay').map((r) => r.encodedKey),
    );
    const entries: LedgerEntry[] = [];
    for (const prev of ledger.values()) {
      if (prev.seenPass < pass && prev.seenBatch !== null && !this.released.has(prev.seenPass)) {
        this.released.set(prev.seenPass, new Set(await ctx.state.releasedBatches(ctx.name, prev.seenPass)));
      }
    }
    // Whether a ledger row proves that the vault holds what it says. One written in this pass may have
    // been written ahead of a vault write that never happened; so may one written by a batch of an
    // earlier pass that was taken back from its worker (cut short, and the retry need not meet its row
    // again: gone at the source, or staying). A row of a batch that was never taken back was completed
    // with its batch, vault writes first. Rows from before batches were kept with them doubt the whole
    // interrupted pass, as they did then.
    const proves = (prev: LedgerEntry) =>
      prev.seenPass < pass && (prev.seenBatch === null ? prev.seenPass !== this.interrupted : this.released.get(prev.seenPass)?.has(prev.seenBatch) === false);
    // A ledger row carried into this pass as it is; one that proves nothing carries a digest no row has.
    const carry = (prev: LedgerEntry): LedgerEntry => ({ ...prev, seenPass: pass, seenBatch: seq, digest: proves(prev) ? prev.digest : Buffer.concat([PENDING, prev.digest]) });
    // A row copied before and refused now (it changed into something the vault refuses) keeps its copy
    // and its ledger row, marked seen: verify lists it as changed, and the sweep does not delete the copy.
    const keep = (prev: LedgerEntry | undefined) => {
      if (prev) entries.push(carry(prev));
    };
    for (const r of rows) if (r.kind === 'refused') keep(ledger.get(r.encodedKey));
    // Whether the ledger row is for this very record (same id in the same collection): only then is it ours.
    const sameRecord = (prev: LedgerEntry | undefined, record: { readonly id: string; readonly collection: string }) => prev?.recordId === record.id && prev.collection === record.collection;
    const writes: { row: (typeof migrating)[number]; digest: Buffer; prev: LedgerEntry | undefined }[] = [];
    let unchanged = 0;
    const moved = await residencyConflicts(ctx, migrating);
    for (const r of migrating) {
      const why = moved.get(r.encodedKey);
      if (why !== undefined) {
        refused += 1;
        this.remember({ table, key: showKey(r.key), code: 'no_home_site', message: why });
        keep(ledger.get(r.encodedKey));
        continue;
      }
      const digest = rowDigest(key, canonicalRecord(table, r.key, r.record));
      const prev = ledger.get(r.encodedKey);
      if (prev && proves(prev) && Buffer.from(prev.digest).equals(digest) && sameRecord(prev, r.record)) {
        unchanged += 1;
        keep(prev);
      } else writes.push({ row: r, digest, prev });
    }
    // A row that now belongs to another subject (or maps to another record) is the old record moved: the
    // copy this migration wrote is deleted first, then written afresh (a re-run after a crash finds it gone).
    for (const w of writes) {
      const { prev, row } = w;
      if (!prev || (prev.subject === row.record.subject && sameRecord(prev, row.record))) continue;
      await this.removeRecord(prev.collection, prev.recordId);
    }

    // Records this migration is about to create under ids it holds no ledger row for: an id some record
    // has already (another migration's, another table's, the API's) is refused, never adopted; the others
    // are claimed by their ledger rows, which are written before the vault write (write-ahead): a run
    // stopped between the two finds, next time, that the record is its own, and a ledger row of this
    // pass is never taken as proof of a copy (above).
    const claims = writes.filter((w) => !sameRecord(w.prev, w.row.record));
    // A page is one table's, so one collection's.
    const collection = migrating[0]?.record.collection ?? '';
    const taken = claims.length === 0 ? new Map<string, string>() : await ctx.enclave.router.recordHolders(collection, claims.map((w) => w.row.record.id));
    const isClaim = new Set(claims);
    const ahead = (w: (typeof writes)[number]) => !(isClaim.has(w) && taken.has(w.row.record.id));
    const entryOf = (w: (typeof writes)[number], digest: Buffer): LedgerEntry => ({ table, key: w.row.encodedKey, collection: w.row.record.collection, recordId: w.row.record.id, subject: w.row.record.subject, digest, seenPass: pass, seenBatch: seq });
    for (const w of writes) if (ahead(w)) entries.push(entryOf(w, w.digest));
    await ctx.state.putLedger(ctx.name, entries);

    const vault = ctx.enclave.vault;
    const denied = new Map<string, ErrorCode>();
    const subjects = new Map<string, string>();
    for (const w of writes) if (!this.registered.has(w.row.record.subject)) subjects.set(w.row.record.subject, w.row.country);
    if (subjects.size > 0) {
      const r = await vault.importSubjects(ctx.principal, [...subjects].map(([id, country]) => ({ id, country })));
      for (const x of r.refused) denied.set(x.id, x.code);
      for (const id of subjects.keys()) if (!denied.has(id)) this.registered.add(id);
      if (this.registered.size > SUBJECT_CACHE) this.registered.clear();
    }
    const refusedRecords = new Map<string, ErrorCode>();
    for (const w of claims) if (taken.has(w.row.record.id)) refusedRecords.set(w.row.record.id, 'record_exists');
    const items = writes.filter((w) => !denied.has(w.row.record.subject) && !refusedRecords.has(w.row.record.id));
    if (items.length > 0) {
      // Only records this migration wrote may be replaced: every item's id is its own now, by a ledger row
      // (an earlier one or the one just written ahead); an id held otherwise was refused above. A claim does
      // not keep the API out, so the vault also replaces only records this migration's principal created:
      // one the API created under a claimed id (between the claim and this write, or after a run stopped
      // in between) is refused with record_exists.
      const r = await vault.importRecords(ctx.principal, collection, items.map((w) => ({ id: w.row.record.id, data: w.row.record.data })), { replace: true });
      for (const x of r.refused) refusedRecords.set(x.id, x.code);
    }
    let copied = 0;
    let recopied = 0;
    /** Ledger rows written ahead for rows the vault then refused, put back as they were. */
    const restored: LedgerEntry[] = [];
    /** Keys whose ledger row goes: the record under their id is someone else's. */
    const disowned: string[] = [];
    for (const w of writes) {
      const code = denied.get(w.row.record.subject) ?? refusedRecords.get(w.row.record.id);
      if (code === undefined) {
        if (w.prev) recopied += 1;
        else copied += 1;
        continue;
      }
      refused += 1;
      const message =
        code === 'subject_mismatch'
          ? `record id "${w.row.record.id}" of ${w.row.record.collection} belongs to another subject's record already (map this table with record_id: hash for ids of its own)`
          : code === 'record_exists'
            ? `record id "${w.row.record.id}" of ${w.row.record.collection} exists already and this migration did not write it (another migration, another table or the API did): it is left as it is (map this table with record_id: hash for ids of its own)`
            : `the vault refused the record (${code})`;
      this.remember({ table, key: showKey(w.row.key), code, message });
      // An id another's record holds is not this migration's: its claim (or the row of a record of ours
      // deleted and created again by someone else) goes, so no later run replaces it nor sweep deletes it.
      // A claim the vault refused for another reason stays, with a digest no row has, so that the record,
      // if it is ever written, is ours; a row copied before keeps what it said.
      if (code === 'record_exists') {
        if (w.prev || ahead(w)) disowned.push(w.row.encodedKey);
      } else if (w.prev) restored.push(carry(w.prev));
      else if (ahead(w)) restored.push(entryOf(w, Buffer.concat([PENDING, w.digest])));
    }
    await ctx.state.putLedger(ctx.name, restored);
    if (disowned.length > 0) await ctx.state.removeLedger(ctx.name, table, disowned);
    return { read: rows.length, copied, recopied, unchanged, stayed, refused };
  }

  private remember(r: RefusedRow): void {
    if (this.refused.length < MAX_REFUSED_SHOWN) this.refused.push(r);
  }

  /**
   * Deletes a record this migration wrote (logged like any delete): 1, or 0 if it is gone already, or if
   * another principal created the record now under its id (a claim the API took first): that one is left.
   */
  private async removeRecord(collection: string, recordId: string): Promise<number> {
    try {
      await this.ctx.enclave.vault.deleteRecord(this.ctx.principal, collection, recordId, undefined, true);
      return 1;
    } catch (err) {
      if (!(err instanceof EnclaveError) || (err.code !== 'record_not_found' && err.code !== 'subject_erased' && err.code !== 'record_exists')) throw err;
      return 0;
    }
  }

  /** Removes the records of ledger rows this pass did not see at the source. */
  private async sweep(pass: number): Promise<number> {
    const { ctx } = this;
    let removed = 0;
    for (;;) {
      const page = await ctx.state.unseen(ctx.name, pass, 500);
      if (page.length === 0) break;
      // Deleted together: their log entries share commits.
      const gone = await Promise.all(page.map((e) => this.removeRecord(e.collection, e.recordId)));
      removed += gone.reduce<number>((a, b) => a + b, 0);
      const byTable = new Map<string, string[]>();
      for (const e of page) byTable.set(e.table, [...(byTable.get(e.table) ?? []), e.key]);
      for (const [table, keys] of byTable) await ctx.state.removeLedger(ctx.name, table, keys);
      this.onProgress({ phase: 'sweeping', done: removed, total: 0, counters: ZERO_COUNTERS });
    }
    return removed;
  }
}
