// The migration-source conformance suite: every MigrationSource adapter (SQLite, PostgreSQL, MySQL/
// MariaDB, JSON Lines) loads the same logical tables and must read, look up, count, delete and report
// them the same way, so the migration behaves alike whatever the legacy engine.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ColumnKind, KeyTuple, MigrationSource, SourceColumn, SourceRow, SourceValue } from '../../../src/core/migration-source.ts';

/** Logical column types; each adapter's loader maps them to its engine's types. */
export type LogicalType = 'int' | 'bigint' | 'text' | 'real' | 'bool' | 'timestamp' | 'date' | 'decimal' | 'blob';

export interface FixtureTable {
  readonly name: string;
  readonly columns: readonly { readonly name: string; readonly type: LogicalType; readonly nullable?: boolean }[];
  readonly key: readonly string[];
  /** Rows in key order. Timestamps as RFC 3339 UTC, dates as YYYY-MM-DD, blobs as bytes. */
  readonly rows: readonly Readonly<Record<string, SourceValue>>[];
}

const BIG = 9_007_199_254_740_993n; // 2^53 + 1: not a safe JS number

const people: FixtureTable = {
  name: 'people',
  key: ['id'],
  columns: [
    { name: 'id', type: 'int' },
    { name: 'handle', type: 'text' },
    { name: 'country', type: 'text', nullable: true },
    { name: 'born', type: 'date', nullable: true },
    { name: 'joined', type: 'timestamp', nullable: true },
    { name: 'score', type: 'real', nullable: true },
    { name: 'active', type: 'bool', nullable: true },
    { name: 'big', type: 'bigint', nullable: true },
    { name: 'amount', type: 'decimal', nullable: true },
    { name: 'photo', type: 'blob', nullable: true },
  ],
  rows: Array.from({ length: 23 }, (_, i) => ({
    id: (i + 1) * 10,
    handle: `h${String(i).padStart(3, '0')}`,
    country: i % 4 === 3 ? null : ['US', 'DE', 'BR'][i % 4] ?? null,
    born: i % 5 === 0 ? null : `19${String(50 + i).padStart(2, '0')}-0${(i % 9) + 1}-1${i % 9}`,
    joined: i % 6 === 0 ? null : `2024-0${(i % 9) + 1}-0${(i % 8) + 1}T1${i % 10}:2${i % 10}:3${i % 10}Z`,
    score: i % 7 === 0 ? null : i + 0.5,
    active: i % 8 === 0 ? null : i % 2 === 0,
    big: i === 4 ? BIG : i % 3 === 0 ? null : i * 1000,
    amount: i % 4 === 0 ? null : `${i}.25`,
    photo: i % 5 === 1 ? Buffer.from([0, 1, 2, 255, i]) : null,
  })),
};

/** Composite key (a, b). */
const pairs: FixtureTable = {
  name: 'pairs',
  key: ['a', 'b'],
  columns: [
    { name: 'a', type: 'int' },
    { name: 'b', type: 'text' },
    { name: 'v', type: 'text' },
  ],
  rows: [1, 2, 3].flatMap((a) => ['p', 'q', 'r', 's'].map((b) => ({ a, b, v: `${a}${b}` }))),
};

export const FIXTURE: readonly FixtureTable[] = [people, pairs];

export interface SourceHarness {
  /** Creates the fixture tables with their rows (fresh) and opens the source. */
  open(): Promise<MigrationSource>;
  readonly cleanup?: () => Promise<void>;
  /** JSON Lines has no schema: kinds are inferred from values, and there are no keys or blobs. */
  readonly schemaless?: boolean;
  /** A reason to skip (the server is not there). */
  readonly skip?: string | false;
}

const EXPECTED_KIND: Readonly<Record<LogicalType, ColumnKind>> = {
  int: 'integer',
  bigint: 'integer',
  text: 'text',
  real: 'real',
  bool: 'boolean',
  timestamp: 'timestamp',
  date: 'date',
  decimal: 'decimal',
  blob: 'blob',
};

/** A value as an adapter must hand it back (JSON Lines: as JSON holds it). */
function expected(v: SourceValue, schemaless: boolean): unknown {
  if (v === null) return null;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  // JSON numbers are doubles: 2^53 + 1 arrives as 2^53.
  if (typeof v === 'bigint') return schemaless ? Number(v) : v;
  return v;
}

function plain(row: SourceRow): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) out[k] = v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v;
  return out;
}

export function sourceConformance(name: string, harness: SourceHarness): void {
  void describe(`MigrationSource conformance: ${name}`, { skip: harness.skip ?? false }, () => {
    let source: MigrationSource;
    const schemaless = harness.schemaless === true;
    const tables = schemaless ? FIXTURE.map((t) => ({ ...t, columns: t.columns.filter((c) => c.type !== 'blob') })) : FIXTURE;
    const cols = (t: FixtureTable) => t.columns.map((c) => c.name);
    const readAll = async (t: FixtureTable, limit: number, bounds: { after?: KeyTuple; upTo?: KeyTuple } = {}) => {
      const out: SourceRow[] = [];
      let after = bounds.after;
      for (;;) {
        const page = await source.read({ table: t.name, columns: cols(t), key: t.key, after, upTo: bounds.upTo, limit });
        assert.ok(page.length <= limit, 'a page never exceeds the limit');
        out.push(...page);
        const last = page.at(-1);
        if (!last || page.length < limit) return out;
        after = t.key.map((k) => last[k] as string | number);
      }
    };
    const expectRows = (t: FixtureTable, rows: readonly Readonly<Record<string, SourceValue>>[]) =>
      rows.map((r) => Object.fromEntries(t.columns.map((c) => [c.name, expected(r[c.name] ?? null, schemaless)])));

    before(async () => {
      source = await harness.open();
    });
    after(async () => {
      await source.close();
      await harness.cleanup?.();
    });

    void it('lists the tables with their columns, kinds, nullability and keys', async () => {
      const live = await source.tables();
      for (const t of tables) {
        const found = live.find((x) => x.name === t.name);
        assert.ok(found, `table ${t.name} is listed`);
        assert.deepEqual(found.columns.map((c) => c.name).sort(), cols(t).sort());
        if (schemaless) {
          assert.deepEqual(found.primaryKey, [], 'JSON Lines declares no key');
          continue;
        }
        assert.deepEqual(found.primaryKey, t.key);
        assert.ok(found.uniqueKeys.some((u) => u.join() === t.key.join()), 'the primary key is among the unique keys');
        for (const c of t.columns) {
          const col: SourceColumn | undefined = found.columns.find((x) => x.name === c.name);
          assert.equal(col?.nullable, c.nullable === true, `${t.name}.${c.name} nullable`);
          if (c.type !== 'bool') assert.equal(col?.kind, EXPECTED_KIND[c.type], `${t.name}.${c.name} (${col?.nativeType ?? '?'}) kind`);
          else assert.ok(col?.kind === 'boolean' || col?.kind === 'integer', `${t.name}.${c.name} is boolean or 0/1 integer`);
        }
      }
    });

    void it('counts rows', async () => {
      for (const t of tables) assert.equal(await source.count(t.name), t.rows.length);
    });

    void it('reads every row exactly once, in key order, a page at a time, whatever the page size', async () => {
      for (const t of tables) {
        for (const limit of [1, 3, 7, 1000]) {
          const rows = await readAll(t, limit);
          assert.deepEqual(rows.map((r) => normalizeBool(plain(r), t)), expectRows(t, t.rows).map((r) => normalizeBool(r, t)), `${t.name}, pages of ${limit}`);
        }
      }
    });

    void it('hands values over in one form: integers beyond 2^53 as bigint, timestamps RFC 3339 UTC, dates YYYY-MM-DD, decimals as text', async () => {
      const [row, next] = await source.read({ table: 'people', columns: ['id', 'big', 'joined', 'born', 'amount'], key: ['id'], after: [40], limit: 2 });
      assert.ok(row && next);
      assert.equal(row['id'], 50);
      if (!schemaless) assert.equal(row['big'], BIG);
      assert.equal(row['joined'], '2024-05-05T14:24:34Z');
      assert.equal(row['born'], '1954-05-14');
      // SQLite stores a DECIMAL as a number (NUMERIC affinity); the others keep its text.
      assert.ok(next['amount'] === '5.25' || next['amount'] === 5.25, `amount ${String(next['amount'])}`);
    });

    void it('bounds pages by an exclusive lower and an inclusive upper key, also for composite keys', async () => {
      const p = tables[0];
      const q = tables[1];
      assert.ok(p && q);
      const mid = await readAll(p, 4, { after: [30], upTo: [90] });
      assert.deepEqual(mid.map((r) => r['id']), [40, 50, 60, 70, 80, 90]);
      assert.deepEqual(await readAll(p, 4, { after: [230] }), [], 'nothing after the last key');
      assert.deepEqual((await readAll(p, 4, { upTo: [20] })).map((r) => r['id']), [10, 20]);
      const pq = await readAll(q, 2, { after: [1, 'r'], upTo: [3, 'p'] });
      assert.deepEqual(pq.map((r) => `${String(r['a'])}${String(r['b'])}`), ['1s', '2p', '2q', '2r', '2s', '3p']);
    });

    void it('looks rows up by a column, in batches larger than one query takes', async () => {
      const found = await source.lookup({ table: 'people', columns: ['id', 'handle'], by: 'handle', values: ['h003', 'h000', 'nobody'] });
      assert.deepEqual(found.map((r) => r['id']).sort((a, b) => Number(a) - Number(b)), [10, 40]);
      const many = Array.from({ length: 2500 }, (_, i) => i * 10);
      const all = await source.lookup({ table: 'people', columns: ['id'], by: 'id', values: many });
      assert.equal(all.length, 23);
    });

    void it('a transaction that throws deletes nothing; one that returns commits its deletes', async () => {
      const before = await source.count('people');
      await assert.rejects(
        source.transaction(['people', 'pairs'], async (tx) => {
          assert.equal(await tx.delete('people', ['id'], [[10], [20]]), 2);
          if (tx.readsOwnDeletes) assert.equal((await tx.read({ table: 'people', columns: ['id'], key: ['id'], limit: 1 }))[0]?.['id'], 30, 'a transaction sees its own deletes');
          throw new Error('changed my mind');
        }),
        /changed my mind/,
      );
      assert.equal(await source.count('people'), before, 'rolled back');
      const n = await source.transaction(['people', 'pairs'], async (tx) => (await tx.delete('people', ['id'], [[20], [30]])) + (await tx.delete('pairs', ['a', 'b'], [[2, 'q'], [3, 's']])));
      assert.equal(n, 4);
      assert.equal(await source.count('people'), before - 2);
      assert.deepEqual((await readAll(tables[0] ?? people, 5, { upTo: [50] })).map((r) => r['id']), [10, 40, 50]);
      assert.deepEqual((await readAll(tables[1] ?? pairs, 5)).map((r) => `${String(r['a'])}${String(r['b'])}`), ['1p', '1q', '1r', '1s', '2p', '2r', '2s', '3p', '3q', '3r']);
    });

    void it('scrubs after a purge and says how, keeping the remaining rows as they were', async () => {
      const beforeRows = (await readAll(tables[0] ?? people, 100)).map(plain);
      const report = await source.scrub(['people', 'pairs']);
      assert.ok(report.engine.length > 0);
      assert.ok(report.steps.length > 0);
      assert.ok(report.limits.length > 0, 'an honest report names what the engine cannot guarantee');
      assert.deepEqual((await readAll(tables[0] ?? people, 100)).map(plain), beforeRows);
    });
  });
}

/** SQLite and MySQL have no booleans (0/1 stand for them), SQLite keeps decimals as numbers. */
function normalizeBool(row: Record<string, unknown>, t: FixtureTable): Record<string, unknown> {
  const out = { ...row };
  for (const c of t.columns) {
    if (c.type === 'bool' && typeof out[c.name] === 'number') out[c.name] = out[c.name] === 1;
    if (c.type === 'decimal' && typeof out[c.name] === 'number') out[c.name] = String(out[c.name]);
  }
  return out;
}
