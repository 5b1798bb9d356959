// `enclave migrate plan`: reads every mapped table once and counts, per table, the rows that would move
// to each jurisdiction's home site, the rows that stay (and why), and the rows that would be refused.
// It writes nothing anywhere.
import type { ErrorCode } from '../../core/errors.ts';
import type { StayReason } from '../../core/migration-row.ts';
import { keyOf } from '../../core/migration-row.ts';
import type { KeyTuple } from '../../core/migration-source.ts';
import type { MigrationContext } from './migration-context.ts';
import { purgeRefusal } from './migration-purger.ts';

export interface TablePlan {
  readonly table: string;
  readonly collection: string;
  readonly rows: number;
  /** jurisdiction → { site, rows } */
  readonly moves: Readonly<Record<string, { readonly site: string; readonly rows: number }>>;
  readonly stays: Readonly<Partial<Record<StayReason, number>>>;
  readonly refused: Readonly<Partial<Record<ErrorCode, number>>>;
  /** A few refused rows, by key, for people to look at. */
  readonly refusedSamples: readonly { readonly key: string; readonly code: ErrorCode; readonly message: string }[];
}

export interface MigrationPlan {
  readonly migration: string;
  readonly source: string;
  readonly tables: readonly TablePlan[];
  /** Source tables the mapping does not mention: their rows are neither copied nor purged. */
  readonly unmapped: readonly string[];
  /** Why a purge would be refused as the schema stands (foreign keys that would change unmapped tables' rows, DELETE triggers, tables that cannot roll back), if it would. */
  readonly purgeRefused: string | null;
}

const SAMPLES = 5;

export async function planMigration(ctx: MigrationContext, onProgress: (done: number, total: number) => void = () => {}): Promise<MigrationPlan> {
  ctx.begin();
  const mapped = new Set(ctx.resolved.tables.map((t) => t.table));
  const unmapped = (await ctx.source.tables()).map((t) => t.name).filter((n) => !mapped.has(n));
  const purgeRefused = (await purgeRefusal(ctx.source, [...mapped])) ?? null;
  const totals = new Map<string, number>();
  for (const t of ctx.resolved.tables) totals.set(t.table, await ctx.source.count(t.table));
  const total = [...totals.values()].reduce((a, b) => a + b, 0);
  let done = 0;
  const tables: TablePlan[] = [];
  for (const t of ctx.resolved.tables) {
    const moves: Record<string, { site: string; rows: number }> = {};
    const stays: Partial<Record<StayReason, number>> = {};
    const refused: Partial<Record<ErrorCode, number>> = {};
    const samples: { key: string; code: ErrorCode; message: string }[] = [];
    let rows = 0;
    let after: KeyTuple | undefined;
    for (;;) {
      const page = await ctx.source.read({ table: t.table, columns: t.columns, key: t.key, after, limit: ctx.batchSize });
      if (page.length === 0) break;
      for (const c of await ctx.classifier.classify(t, page, ctx.source, ctx.name)) {
        if (c.kind === 'migrating') {
          const m = (moves[c.jurisdiction] ??= { site: c.site, rows: 0 });
          m.rows += 1;
        } else if (c.kind === 'stay') stays[c.reason] = (stays[c.reason] ?? 0) + 1;
        else {
          refused[c.code] = (refused[c.code] ?? 0) + 1;
          if (samples.length < SAMPLES) samples.push({ key: c.encodedKey, code: c.code, message: c.message });
        }
      }
      rows += page.length;
      done += page.length;
      onProgress(done, total);
      const last = page.at(-1);
      if (!last || page.length < ctx.batchSize) break;
      after = keyOf(last, t.key, t.table);
    }
    tables.push({ table: t.table, collection: t.collection.name, rows, moves, stays, refused, refusedSamples: samples });
  }
  return { migration: ctx.name, source: ctx.sourceLabel, tables, unmapped, purgeRefused };
}
