// Foreign keys through which a purge would change rows it never verified: an ON DELETE CASCADE, SET NULL
// or SET DEFAULT from a table the purge does not delete from into one it does. The engine would delete
// or rewrite that table's rows along with the verified ones (and SQLite, whose purge runs with foreign
// keys off, would leave them referring to deleted rows), so such a purge is refused before it deletes.
import type { DeleteAction, SourceForeignKey } from './migration-source.ts';

const CHANGING: ReadonlySet<DeleteAction> = new Set(['cascade', 'set null', 'set default']);

/** The foreign keys by which deleting from the purged tables would change rows of other tables. */
function unverifiedDeleteEffects(keys: readonly SourceForeignKey[], purged: readonly string[]): SourceForeignKey[] {
  const tables = new Set(purged);
  return keys.filter((k) => tables.has(k.references) && !tables.has(k.table) && CHANGING.has(k.onDelete));
}

function describeForeignKey(k: SourceForeignKey): string {
  return `table ${k.table}, constraint ${k.name} (${k.columns.join(', ')} → ${k.references}, ON DELETE ${k.onDelete.toUpperCase()})`;
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
