// Whether the vault still holds the copies of the rows a purge is about to delete. A verification proves
// the copies as they were when it ran; a record deleted since (through the API, or lost by its store)
// would leave the source's row as the only copy of its data, and the purge would destroy it. A subject
// erased since is the exception: an erasure wants their rows gone everywhere, the source's too.
import { erasedIn, type Registered } from './residency-check.ts';
import type { MigrationContext } from './migration-context.ts';
import type { Classified } from './row-classifier.ts';

type Migrating = Extract<Classified, { kind: 'migrating' }>;

/** For each row (by encoded key) whose record is no longer in the vault for its subject, and whose subject is not erased, why. */
export async function lostCopies(ctx: MigrationContext, rows: readonly Migrating[], subjects: Registered): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (rows.length === 0) return out;
  // One lookup per site and collection: the records of a page's rows, where their subjects live.
  const groups = new Map<string, { site: string; collection: string; rows: Migrating[] }>();
  for (const r of rows) {
    const s = subjects.get(r.record.subject);
    if (!s) {
      out.set(r.encodedKey, `subject "${r.record.subject}" is no longer registered in the vault`);
      continue;
    }
    if (erasedIn(subjects, r.record.subject)) continue;
    const id = `${s.site}\u0000${r.record.collection}`;
    const g = groups.get(id) ?? { site: s.site, collection: r.record.collection, rows: [] };
    g.rows.push(r);
    groups.set(id, g);
  }
  for (const g of groups.values()) {
    const held = await ctx.enclave.router.recordHolders(g.collection, g.rows.map((r) => r.record.id), [g.site]);
    for (const r of g.rows) {
      if (held.get(r.record.id) !== r.record.subject) out.set(r.encodedKey, `record ${g.collection}/${r.record.id} is no longer in the vault at site ${g.site}`);
    }
  }
  return out;
}
