// A directory of JSON Lines exports as a migration source: one file per table, `<table>.jsonl`, one JSON
// object per line (jsonlines.org), in ascending key order (as `ORDER BY key` exports write them; the
// order is checked while reading). Files are streamed line by line with node:readline: a sequential
// read continues where the last page ended, so a pass reads each file once. Schemas are inferred from
// the first lines; lookups (the join to the users table) use an index of that one table held in memory.
//
// Purge: the keys to delete are spooled to a side file per table, in key order. The commit is one for
// all tables: every table's kept lines are first written to a side file (fsync), then one commit marker
// naming the tables is written (fsync, directory fsync), and only then is each file rewritten *in
// place*: its kept lines written from the start of the same file, the rest of the old length
// overwritten with zeros, and the file truncated (fsync at each step), so no deleted line remains in it.
// A failure before the marker removes the side files (nothing was purged); after it, the next open
// finishes every table (everything is purged). No table is ever purged without the others.
import { createHash, type Hash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, fsyncSync, ftruncateSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { Transform, type TransformCallback } from 'node:stream';
import { EnclaveError } from '../../core/errors.ts';
import { duplicateName } from '../../core/json-duplicate-names.ts';
import { sameDecimal } from '../../core/migration-row.ts';
import { FOREIGN_LEASE_MS, holderGone, newHolderId, processAlive } from '../process-alive.ts';
import {
  compareKeys,
  type ColumnKind,
  type KeyTuple,
  type LookupRequest,
  type MigrationSource,
  type ReadRequest,
  type ScrubReport,
  type SourceColumn,
  type SourceForeignKey,
  type SourceRow,
  type SourceTable,
  type SourceTransaction,
  type SourceValue,
} from '../../core/migration-source.ts';

const SUFFIX = '.jsonl';
const SAMPLE_LINES = 1000;
const TMP = '.purge-tmp';
const READY = '.purge-ready';
const DELETES = '.purge-deletes';
/** In the directory: the purge whose side files are all prepared is committed (a JSON list of its tables). */
const COMMIT = '.purge-commit';
// Held by the purge under way, named by its holder id (host:pid:token:start, as the migration's claims
// are): no other open may take its side files for a dead purge's and remove them. A lock whose holder is
// gone (holderGone: that process, started at that time, no longer runs; one of another host once the
// lock's time is FOREIGN_LEASE_MS old, which the purge renews while it runs) is stale.
const LOCK = '.purge-lock';

function invalidData(message: string): EnclaveError {
  return new EnclaveError('invalid_source_data', message);
}

// ---- numbers a double cannot hold ----------------------------------------------------------------
// JSON.parse rounds every number to a 64-bit float: an id or an amount of 17 digits would be copied
// rounded, verify (which compares converted records) could not tell, and the purge would delete the
// only exact value. A line that may hold such a number is parsed with the numbers' source text
// (JSON.parse source text access), and a number a double does not hold exactly is kept exact: as a
// bigint when it is an integer, as its decimal text otherwise, as the SQL sources hand over bigint and
// decimal columns; inside a nested value, as its own digits in the JSON text.

/** The source text of a number JSON.parse would round. */
class ExactNumber {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

interface ParseContext {
  readonly source?: string;
}
type Reviver = (this: unknown, key: string, value: unknown, context: ParseContext) => unknown;
const parseWith = JSON.parse as (text: string, reviver: Reviver) => unknown;
const rawJson = (text: string): unknown => (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON(text);

/** 16 digits or more in a row (a dot between them), or an exponent: the only numbers a double may not hold. */
const MAYBE_INEXACT = /\d[\d.]{15}|\d[eE]/;

function exactReviver(_key: string, value: unknown, context: ParseContext): unknown {
  if (typeof value !== 'number' || context.source === undefined) return value;
  return sameDecimal(context.source, String(value)) && Number.isFinite(value) ? value : new ExactNumber(context.source);
}

/** A top-level member as the source hands it over: an integer as bigint, any other number as its text. */
function exactMember(v: unknown): unknown {
  if (!(v instanceof ExactNumber)) return v;
  return /^-?\d+$/.test(v.text) ? BigInt(v.text) : v.text;
}

/** JSON.parse, numbers a double cannot hold kept exact (top-level members converted, nested ones kept for toValue). */
function parseExact(text: string): unknown {
  if (!MAYBE_INEXACT.test(text)) return JSON.parse(text);
  const v = parseWith(text, exactReviver);
  if (v instanceof ExactNumber) return exactMember(v);
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) o[k] = exactMember(o[k]);
  }
  return v;
}

/** JSON text of a value, exact numbers (nested ones, bigints) written with their own digits. */
function stringifyExact(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x instanceof ExactNumber ? rawJson(x.text) : typeof x === 'bigint' ? rawJson(x.toString()) : x));
}

function toValue(v: unknown): SourceValue {
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return v;
  return stringifyExact(v);
}

function kindOf(v: unknown): ColumnKind | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return 'text';
  if (typeof v === 'bigint') return 'integer';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'real';
  if (typeof v === 'boolean') return 'boolean';
  return 'json';
}

/**
 * Passes a file's bytes through unchanged, refusing any that are not UTF-8: decoded as they were, they
 * would become U+FFFD, a copy that verifies against itself, and the purge would delete the only exact bytes.
 */
class Utf8Check extends Transform {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private readonly file: string;
  /** The line the next chunk starts in (1-based, as LineReader counts). */
  private line = 1;

  constructor(file: string) {
    super();
    this.file = file;
  }

  private refuse(line: number): EnclaveError {
    return invalidData(`${basename(this.file)}:${line}: not valid UTF-8 (a file in another encoding must be converted to UTF-8 first)`);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.decoder.decode(chunk, { stream: true });
    } catch {
      callback(this.refuse(this.badLine(chunk)));
      return;
    }
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) this.line += 1;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.decoder.decode();
      callback();
    } catch {
      callback(this.refuse(this.line));
    }
  }

  /** The line of the chunk holding the bad bytes: its lines are checked one by one (a newline is never part of a character). */
  private badLine(chunk: Buffer): number {
    const d = new TextDecoder('utf-8', { fatal: true });
    // The chunk may begin inside a character the previous one started: its continuation bytes are skipped.
    let at = 0;
    while (at < Math.min(3, chunk.length) && ((chunk[at] ?? 0) & 0xc0) === 0x80) at += 1;
    for (let line = this.line; at < chunk.length; line += 1) {
      const nl = chunk.indexOf(10, at);
      const end = nl === -1 ? chunk.length : nl + 1;
      try {
        d.decode(chunk.subarray(at, end), { stream: true });
      } catch {
        return line;
      }
      at = end;
    }
    return this.line;
  }
}

interface Line {
  readonly row: Record<string, unknown>;
  readonly line: number;
  /** The line as it is in the file (kept lines are written back byte for byte). */
  readonly text: string;
}

/** Reads a file's objects one at a time, with their line numbers. */
class LineReader {
  private readonly rl: Interface;
  private readonly it: AsyncIterator<string>;
  private n = 0;
  readonly file: string;
  /** With `hashed`: SHA-256 over the lines read so far (as kept lines are written back), to tell whether two reads saw the same file. */
  private readonly hash: Hash | undefined;
  /** The hash of the whole file, once it was read to its end (with `hashed`). */
  digest: string | undefined;

  constructor(file: string, hashed = false) {
    this.file = file;
    this.hash = hashed ? createHash('sha256') : undefined;
    const bytes = createReadStream(file);
    const checked = new Utf8Check(file);
    bytes.on('error', (err) => checked.destroy(err));
    this.rl = createInterface({ input: bytes.pipe(checked), crlfDelay: Infinity });
    this.it = this.rl[Symbol.asyncIterator]();
  }

  async next(): Promise<Line | undefined> {
    for (;;) {
      const r = await this.it.next();
      if (r.done === true) {
        if (this.hash && this.digest === undefined) this.digest = this.hash.digest('hex');
        return undefined;
      }
      this.n += 1;
      const text = r.value.trim();
      if (text === '') continue;
      this.hash?.update(`${text}\n`);
      let row: unknown;
      try {
        row = parseExact(text);
      } catch {
        throw invalidData(`${basename(this.file)}:${this.n}: not valid JSON`);
      }
      if (typeof row !== 'object' || row === null || Array.isArray(row)) throw invalidData(`${basename(this.file)}:${this.n}: a line must be one JSON object`);
      const twice = duplicateName(text);
      if (twice) throw invalidData(`${basename(this.file)}:${this.n}: ${twice.depth === 1 ? `member ${JSON.stringify(twice.name.slice(0, 64))}` : 'a member name of a nested object'} appears twice in one object; which value is meant cannot be told`);
      return { row: row as Record<string, unknown>, line: this.n, text };
    }
  }

  close(): void {
    this.rl.close();
  }
}

function keyFrom(line: Line, key: readonly string[], file: string): KeyTuple {
  return key.map((k) => {
    const v = line.row[k];
    if (typeof v === 'string' || typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v))) return v;
    throw invalidData(`${basename(file)}:${line.line}: key "${k}" must be text or a whole number`);
  });
}

/** A sequential cursor over one file in key order: continues where the previous page stopped. */
class Cursor {
  readonly reader: LineReader;
  readonly key: readonly string[];
  /** Key of the last row handed out (or skipped), for the order check and to continue from. */
  last: KeyTuple | undefined;
  /** A row read past the previous page's upper bound. */
  pending: { line: Line; key: KeyTuple } | undefined;

  constructor(file: string, key: readonly string[], hashed = false) {
    this.reader = new LineReader(file, hashed);
    this.key = key;
  }

  async next(): Promise<{ line: Line; key: KeyTuple } | undefined> {
    if (this.pending) {
      const p = this.pending;
      this.pending = undefined;
      return p;
    }
    const line = await this.reader.next();
    if (!line) return undefined;
    const key = keyFrom(line, this.key, this.reader.file);
    if (this.last !== undefined && compareKeys(key, this.last) <= 0) {
      throw invalidData(`${basename(this.reader.file)}:${line.line}: rows must be in ascending, unique key order (${this.key.join(', ')}); sort the export by its key`);
    }
    this.last = key;
    return { line, key };
  }
}

const sameKey = (a: KeyTuple | undefined, b: KeyTuple | undefined) => (a === undefined ? b === undefined : b !== undefined && compareKeys(a, b) === 0);

class JsonlReader {
  protected readonly dir: string;
  private readonly cursors = new Map<string, { cursor: Cursor; position: KeyTuple | undefined }>();
  private readonly indexes = new Map<string, Map<string, SourceRow[]>>();
  /** A purge's reads hash every file they read whole: the rewrite must find each file as they read it. */
  protected readonly hashed: boolean = false;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** A read of the whole file of `table` ended (only with `hashed`). */
  protected readWhole(_table: string, _digest: string): void {}

  protected file(table: string): string {
    return join(this.dir, `${table}${SUFFIX}`);
  }

  async read(r: ReadRequest): Promise<SourceRow[]> {
    const id = `${r.table}\u0000${r.key.join('\u0000')}`;
    let entry = this.cursors.get(id);
    if (!entry || !sameKey(entry.position, r.after)) {
      entry?.cursor.reader.close();
      entry = { cursor: new Cursor(this.file(r.table), r.key, this.hashed), position: undefined };
      this.cursors.set(id, entry);
      if (r.after) {
        // Not where the last page ended: skip from the start (a resumed run, a random access).
        for (let n = await entry.cursor.next(); n; n = await entry.cursor.next()) {
          if (compareKeys(n.key, r.after) > 0) {
            entry.cursor.pending = n;
            break;
          }
        }
      }
    }
    const rows: SourceRow[] = [];
    while (rows.length < r.limit) {
      const n = await entry.cursor.next();
      if (!n) {
        const digest = entry.cursor.reader.digest;
        if (digest !== undefined) this.readWhole(r.table, digest);
        break;
      }
      if (r.upTo && compareKeys(n.key, r.upTo) > 0) {
        entry.cursor.pending = n;
        break;
      }
      const row: Record<string, SourceValue> = {};
      for (const c of r.columns) row[c] = toValue(n.line.row[c] ?? null);
      rows.push(row);
      entry.position = n.key;
    }
    if (rows.length === 0 && r.after) entry.position = r.after;
    return rows;
  }

  async lookup(r: LookupRequest): Promise<SourceRow[]> {
    const id = `${r.table}\u0000${r.by}\u0000${r.columns.join('\u0000')}`;
    let index = this.indexes.get(id);
    if (!index) {
      index = new Map();
      const reader = new LineReader(this.file(r.table), this.hashed);
      try {
        for (let l = await reader.next(); l; l = await reader.next()) {
          const v = l.row[r.by];
          if (v === null || v === undefined) continue;
          const row: Record<string, SourceValue> = {};
          for (const c of r.columns) row[c] = toValue(l.row[c] ?? null);
          const k = typeof v === 'string' ? v : stringifyExact(v);
          const list = index.get(k);
          if (list) list.push(row);
          else index.set(k, [row]);
        }
      } finally {
        reader.close();
      }
      if (reader.digest !== undefined) this.readWhole(r.table, reader.digest);
      this.indexes.set(id, index);
    }
    const out: SourceRow[] = [];
    for (const v of r.values) out.push(...(index.get(typeof v === 'string' ? v : v.toString()) ?? []));
    return out;
  }

  protected reset(): void {
    for (const { cursor } of this.cursors.values()) cursor.reader.close();
    this.cursors.clear();
    this.indexes.clear();
  }
}

class JsonlTransaction extends JsonlReader implements SourceTransaction {
  readonly readsOwnDeletes = false;
  protected override readonly hashed = true;
  /** table → [spool fd, key columns, last key spooled] */
  readonly spools = new Map<string, { fd: number; key: readonly string[]; last: KeyTuple | undefined; count: number }>();
  /** table → the hashes of the whole file as each of this transaction's reads of it found it. */
  readonly seen = new Map<string, Set<string>>();

  protected override readWhole(table: string, digest: string): void {
    const set = this.seen.get(table) ?? new Set<string>();
    set.add(digest);
    this.seen.set(table, set);
  }

  async delete(table: string, key: readonly string[], keys: readonly KeyTuple[]): Promise<number> {
    let spool = this.spools.get(table);
    if (!spool) {
      spool = { fd: openSync(this.file(table) + DELETES, 'w', 0o600), key, last: undefined, count: 0 };
      this.spools.set(table, spool);
    }
    for (const k of keys) {
      if (spool.last !== undefined && compareKeys(k, spool.last) <= 0) throw new EnclaveError('internal', 'JSON Lines deletions must come in ascending key order');
      writeSync(spool.fd, `${stringifyExact(k)}\n`);
      spool.last = k;
      spool.count += 1;
    }
    return Promise.resolve(keys.length);
  }

  discard(): void {
    for (const [table, s] of this.spools) {
      closeSync(s.fd);
      rmSync(this.file(table) + DELETES, { force: true });
    }
    this.spools.clear();
    this.reset();
  }

  close(): void {
    this.reset();
  }
}

/** Copies `from` over `to` in place from offset 0, zeroes the rest of `to`'s old length, truncates, syncs. */
function overwriteInPlace(to: string, from: string): void {
  const oldSize = statSync(to).size;
  const src = openSync(from, 'r');
  const dst = openSync(to, 'r+');
  try {
    const buf = Buffer.alloc(1 << 20);
    let pos = 0;
    for (let n = readSync(src, buf, 0, buf.length, pos); n > 0; n = readSync(src, buf, 0, buf.length, pos)) {
      writeSync(dst, buf, 0, n, pos);
      pos += n;
    }
    buf.fill(0);
    for (let at = pos; at < oldSize; at += buf.length) writeSync(dst, buf, 0, Math.min(buf.length, oldSize - at), at);
    fsyncSync(dst);
    ftruncateSync(dst, pos);
    fsyncSync(dst);
  } finally {
    closeSync(src);
    closeSync(dst);
  }
}

/** fsync of a directory: the files created or removed in it stay so after a crash. */
function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** What tells a file changed since: its identity, size and modification time. */
function fileStamp(file: string): string {
  const st = statSync(file, { bigint: true });
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

function changedDuringPurge(table: string): EnclaveError {
  return new EnclaveError(
    'purge_refused',
    `the JSON Lines file ${table}${SUFFIX} changed during the purge, after it was read and checked against the verification; nothing was deleted. Stop the writes to the export, then run, verify and purge again`,
  );
}

function writeDurably(file: string, text: string): void {
  const fd = openSync(file, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The tables of a committed purge; undefined without a marker, or with one cut short (written, not yet synced: not committed). */
function committedTables(marker: string): string[] | undefined {
  if (!existsSync(marker)) return undefined;
  try {
    const tables: unknown = JSON.parse(readFileSync(marker, 'utf8'));
    if (Array.isArray(tables) && tables.every((t) => typeof t === 'string')) return tables;
  } catch {
    // cut short
  }
  return undefined;
}

/** The lock's content if a live purge other than `mine` holds it; a stale lock is removed. */
function heldByOther(dir: string, mine: string): string | undefined {
  const lock = join(dir, LOCK);
  let text: string;
  try {
    text = readFileSync(lock, 'utf8');
  } catch {
    return undefined;
  }
  if (text === mine) return undefined;
  const parts = text.split(':');
  let gone: boolean;
  if (parts.length >= 3) {
    let since = 0;
    try {
      since = statSync(lock).mtimeMs;
    } catch {
      // removed meanwhile: its holder finished
    }
    gone = holderGone(text, Date.now(), since);
  } else {
    // `pid:token`, written by releases before holder ids: the process with that pid, unless it is this
    // one (which names itself by holder id), may still be its holder.
    const pid = Number(parts[0]);
    gone = !(Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid));
  }
  if (!gone) return text;
  rmSync(lock, { force: true });
  return undefined;
}

/** The holder of a lock as the refusal names it: its process, and its host when that is another. */
function holderLabel(text: string): string {
  const parts = text.split(':');
  if (parts.length < 3) return `process ${parts[0] ?? '?'}`;
  const [host, pid] = parts;
  return host === hostname() ? `process ${pid ?? '?'}` : `process ${pid ?? '?'} on host ${host ?? '?'}`;
}

export class JsonlSource extends JsonlReader implements MigrationSource {
  readonly kind = 'jsonl';
  readonly location: string;
  private rewritten: string[] = [];
  private readonly token = newHolderId();

  constructor(dir: string, location = dir) {
    super(dir);
    this.location = location;
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new EnclaveError('source_unavailable', `the JSON Lines source ${location} is not a directory`);
    this.recover();
  }

  /** Finishes a purge that reached its commit marker; removes the side files of one that did not. */
  private recover(): void {
    // Another purge is under way: its side files are its own, not a dead purge's.
    if (heldByOther(this.dir, this.token) !== undefined) return;
    // A per-file marker left by releases before the commit marker: that file may be half rewritten.
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith(SUFFIX + READY)) continue;
      const target = join(this.dir, f.slice(0, -READY.length));
      overwriteInPlace(target, target + TMP);
      rmSync(target + READY);
      rmSync(target + TMP, { force: true });
    }
    const committed = committedTables(join(this.dir, COMMIT));
    if (committed) {
      this.apply(committed);
      return;
    }
    rmSync(join(this.dir, COMMIT), { force: true });
    for (const e of readdirSync(this.dir, { withFileTypes: true })) {
      if (e.isFile() && (e.name.endsWith(SUFFIX + TMP) || e.name.endsWith(SUFFIX + DELETES))) rmSync(join(this.dir, e.name));
    }
  }

  async tables(): Promise<SourceTable[]> {
    const out: SourceTable[] = [];
    for (const f of readdirSync(this.dir).filter((x) => x.endsWith(SUFFIX)).sort()) {
      const name = f.slice(0, -SUFFIX.length);
      const kinds = new Map<string, Set<ColumnKind>>();
      const nullable = new Set<string>();
      const reader = new LineReader(join(this.dir, f));
      let lines = 0;
      try {
        for (let l = await reader.next(); l && lines < SAMPLE_LINES; l = await reader.next(), lines++) {
          for (const [k, v] of Object.entries(l.row)) {
            if (!kinds.has(k)) {
              kinds.set(k, new Set());
              if (lines > 0) nullable.add(k);
            }
            const kind = kindOf(v);
            if (kind) kinds.get(k)?.add(kind);
            else nullable.add(k);
          }
          for (const k of kinds.keys()) if (!Object.hasOwn(l.row, k)) nullable.add(k);
        }
      } finally {
        reader.close();
      }
      const columns: SourceColumn[] = [...kinds].map(([c, ks]) => {
        const list = [...ks];
        const kind: ColumnKind = list.length === 1 ? (list[0] ?? 'other') : list.length === 2 && ks.has('integer') && ks.has('real') ? 'real' : 'other';
        return { name: c, kind, nativeType: list.length === 0 ? 'null' : list.join('|'), nullable: nullable.has(c) };
      });
      out.push({ name, columns, primaryKey: [], uniqueKeys: [] });
    }
    return out;
  }

  /** Files declare no foreign keys. */
  async foreignKeys(): Promise<SourceForeignKey[]> {
    return Promise.resolve([]);
  }

  /** Files run no triggers; their purge rewrites each file whole, or not at all. */
  async deleteHazards(): Promise<string[]> {
    return Promise.resolve([]);
  }

  async count(table: string): Promise<number> {
    const reader = new LineReader(this.file(table));
    let n = 0;
    try {
      while (await reader.next()) n++;
    } finally {
      reader.close();
    }
    return n;
  }

  async transaction<T>(_tables: readonly string[], work: (tx: SourceTransaction) => Promise<T>): Promise<T> {
    const lock = join(this.dir, LOCK);
    const holder = heldByOther(this.dir, this.token);
    if (holder !== undefined) throw new EnclaveError('source_unavailable', `another purge of the JSON Lines source ${this.location} is under way (${holderLabel(holder)}); try again when it has finished`);
    try {
      writeFileSync(lock, this.token, { flag: 'wx', mode: 0o600 });
    } catch (cause) {
      throw new EnclaveError('source_unavailable', `another purge of the JSON Lines source ${this.location} began at the same moment; try again`, { cause });
    }
    // The lock's time tells another host how long ago its holder was last seen.
    const renew = setInterval(() => {
      try {
        const now = new Date();
        utimesSync(lock, now, now);
      } catch {
        // gone: nothing to renew
      }
    }, FOREIGN_LEASE_MS / 5);
    renew.unref();
    try {
      return await this.locked(work);
    } finally {
      clearInterval(renew);
      rmSync(lock, { force: true });
    }
  }

  private async locked<T>(work: (tx: SourceTransaction) => Promise<T>): Promise<T> {
    this.recover();
    const tx = new JsonlTransaction(this.dir);
    let out: T;
    try {
      out = await work(tx);
    } catch (err) {
      tx.discard();
      throw err;
    }
    tx.close();
    this.reset();
    const tables = [...tx.spools.keys()];
    try {
      // Files cannot be locked against the legacy application: each is checked to be, when its kept
      // lines are written, as the purge read and digested it, and unchanged from then until the commit.
      const prepared = new Map<string, string>();
      for (const [table, spool] of tx.spools) {
        fsyncSync(spool.fd);
        closeSync(spool.fd);
        tx.spools.delete(table);
        await this.prepare(table, spool.key, spool.count, tx.seen.get(table));
        prepared.set(table, fileStamp(this.file(table)));
      }
      for (const [table, stamp] of prepared) if (fileStamp(this.file(table)) !== stamp) throw changedDuringPurge(table);
      syncDir(this.dir);
      if (tables.length > 0) writeDurably(join(this.dir, COMMIT), JSON.stringify(tables));
    } catch (err) {
      // Before the commit marker: nothing was purged, and no table may be.
      tx.discard();
      rmSync(join(this.dir, COMMIT), { force: true });
      for (const t of tables) this.removeSideFiles(t);
      throw err;
    }
    syncDir(this.dir);
    // Past the commit point: a failure from here on is finished by the next open (recover).
    this.apply(tables);
    return out;
  }

  /**
   * Writes the table's kept lines to its side file, by a merge of the file and the spooled deletions.
   * Refuses unless the file is still as every whole read of it in the transaction found it (`seen`), and
   * every spooled deletion (`deletions` of them) finds its line: a line edited meanwhile is not deleted unverified.
   */
  private async prepare(table: string, key: readonly string[], deletions: number, seen: ReadonlySet<string> | undefined): Promise<void> {
    const file = this.file(table);
    const deletes = createInterface({ input: createReadStream(file + DELETES, { encoding: 'utf8' }), crlfDelay: Infinity })[Symbol.asyncIterator]();
    const nextDelete = async (): Promise<KeyTuple | undefined> => {
      const r = await deletes.next();
      return r.done === true ? undefined : (parseExact(r.value) as KeyTuple);
    };
    const source = new LineReader(file, true);
    const tmp = openSync(file + TMP, 'w', 0o600);
    try {
      // Both streams are in ascending key order: a merge keeps memory flat.
      let d = await nextDelete();
      let deleted = 0;
      for (let l = await source.next(); l; l = await source.next()) {
        const k = keyFrom(l, key, file);
        while (d !== undefined && compareKeys(d, k) < 0) d = await nextDelete();
        if (d !== undefined && compareKeys(d, k) === 0) {
          deleted += 1;
          d = await nextDelete();
          continue;
        }
        writeSync(tmp, `${l.text}\n`);
      }
      // A table this transaction read whole must be as it read it (every read alike); every deletion must find its line.
      if (deleted !== deletions || (seen !== undefined && (seen.size !== 1 || source.digest === undefined || !seen.has(source.digest)))) throw changedDuringPurge(table);
      fsyncSync(tmp);
    } finally {
      closeSync(tmp);
      await deletes.return?.();
      source.close();
    }
  }

  /** Rewrites each committed table from its side file (idempotent: a table already done has none left), then drops the marker. */
  private apply(tables: readonly string[]): void {
    for (const table of tables) {
      const file = this.file(table);
      if (existsSync(file + TMP)) this.overwrite(table);
      this.removeSideFiles(table);
      if (!this.rewritten.includes(table)) this.rewritten.push(table);
    }
    rmSync(join(this.dir, COMMIT), { force: true });
    syncDir(this.dir);
  }

  /** One committed table's rewrite in place (a test stops here to leave what a crash between tables leaves). */
  protected overwrite(table: string): void {
    overwriteInPlace(this.file(table), this.file(table) + TMP);
  }

  private removeSideFiles(table: string): void {
    for (const side of [TMP, DELETES]) {
      const f = this.file(table) + side;
      if (existsSync(f) && statSync(f).isFile()) rmSync(f);
    }
  }

  /** A purge changes no setting of this engine. */
  settingsBefore(): Readonly<Record<string, string>> {
    return {};
  }

  async scrub(_tables: readonly string[]): Promise<ScrubReport> {
    return Promise.resolve({
      engine: 'JSON Lines files',
      steps: [
        `rewrote ${this.rewritten.length} file(s) in place: the kept lines written from the start of the same file, the rest of its old length overwritten with zeros, then truncated, with fsync after each step`,
      ],
      settings: { files: this.rewritten.map((t) => `${t}${SUFFIX}`).join(', ') },
      limits: [
        'copies of the files made before the purge (backups, snapshots, other exports) are not touched',
        'the file system may keep freed blocks (copy-on-write file systems, SSD wear levelling)',
        'blank lines and surrounding spaces of the kept lines are not kept',
      ],
    });
  }

  async close(): Promise<void> {
    this.reset();
    return Promise.resolve();
  }
}
