// Foreign keys through which a purge would change rows it never verified: an ON DELETE CASCADE, SET NULL
// or SET DEFAULT from a table the purge does not delete from into one it does. The engine would delete
// or rewrite that table's rows along with the verified ones (and SQLite, whose purge runs with foreign
// keys off, would leave them referring to deleted rows), so such a purge is refused before it deletes.
import type { DanglingReference, DeleteAction, SourceForeignKey } from './migration-source.ts';

const CHANGING: ReadonlySet<DeleteAction> = new Set(['cascade', 'set null', 'set default', 'unknown']);

/** The foreign keys by which deleting from the purged tables would change rows of other tables. */
function unverifiedDeleteEffects(keys: readonly SourceForeignKey[], purged: readonly string[]): SourceForeignKey[] {
  const tables = new Set(purged);
  return keys.filter((k) => tables.has(k.references) && !tables.has(k.table) && CHANGING.has(k.onDelete));
}

function describeForeignKey(k: SourceForeignKey): string {
  const rule = k.onDelete === 'unknown' ? 'its ON DELETE rule not shown to the source\'s account, so taken as CASCADE' : `ON DELETE ${k.onDelete.toUpperCase()}`;
  return `table ${k.table}, constraint ${k.name} (${k.columns.join(', ')} → ${k.references}, ${rule})`;
}

/** Why a purge of these tables is refused because of those foreign keys, and what to do about it; undefined when it is not. */
export function deleteEffectsRefusal(keys: readonly SourceForeignKey[], purged: readonly string[]): string | undefined {
  const effects = unverifiedDeleteEffects(keys, purged);
  if (effects.length === 0) return undefined;
  const targets = [...new Set(effects.map((k) => k.references))].join(', ');
  return (
    `deleting from ${targets} would change rows of tables the purge does not verify: ${effects.map(describeForeignKey).join('; ')}. ` +
    'Map those tables too (their rows are then verified and purged with their subjects), or change the constraints to ON DELETE RESTRICT or NO ACTION'
  );
}

/** Why a purge of these tables is refused because of the source's delete hazards (MigrationSource.deleteHazards); undefined when it has none. */
export function deleteHazardsRefusal(hazards: readonly string[]): string | undefined {
  if (hazards.length === 0) return undefined;
  // A hazard that names a privilege to grant (MySQL shows triggers and foreign keys only to an account holding one) says how.
  const grant = hazards.some((h) => /\bGRANT [A-Z]+ ON\b/.test(h)) ? '; grant the privileges named, so that the check sees every trigger and foreign key' : '';
  return `a delete at the source would not be exactly the verified one: ${hazards.join('; ')}. Drop or disable those triggers or rules, or convert those tables to a transactional engine${grant}`;
}

/**
 * Why a purge is refused because its deletes would leave rows referring to deleted ones (where the engine
 * does not enforce foreign keys during the purge: SQLite), from the dangling references found before and
 * after them; undefined when they add none. Row by row, not in totals: a purge that deletes a row that
 * already dangled and leaves another one dangling adds one. A row the engine cannot name (SQLite's WITHOUT
 * ROWID tables) is counted per table and key, which is exact in a table the purge does not delete from
 * (its dangling rows can only grow); in one it deletes from an old one may go as a new one comes, so
 * there every such row found after the deletes counts.
 */
export function danglingRefusal(before: readonly DanglingReference[], after: readonly DanglingReference[], purged: readonly string[]): string | undefined {
  const tables = new Set(purged);
  const id = (r: DanglingReference) => `${r.table}\u0000${r.key}\u0000${r.row ?? ''}`;
  const had = new Map<string, number>();
  for (const r of before) had.set(id(r), (had.get(id(r)) ?? 0) + 1);
  let unnamed = false;
  const added = after.filter((r) => {
    if (r.row === null && tables.has(r.table)) return (unnamed = true);
    const n = had.get(id(r)) ?? 0;
    had.set(id(r), n - 1);
    return n <= 0;
  });
  if (added.length === 0) return undefined;
  const where = [...Map.groupBy(added, (r) => `${r.table} (${r.key})`)].map(([k, rows]) => `${k}: ${rows.length}`).join('; ');
  return (
    `deleting would leave ${added.length} row(s) referring to purged rows, in ${where} (foreign keys with ON DELETE RESTRICT or NO ACTION, which this engine does not enforce during the purge; PRAGMA foreign_key_check lists them)` +
    (unnamed ? '; a WITHOUT ROWID table the purge deletes from has no rowid to tell a new one from one that was there before, so each counts' : '') +
    '. Map those tables too, or clear those references at the source'
  );
}
