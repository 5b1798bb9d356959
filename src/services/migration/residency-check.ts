// A subject whose residence at the source now maps to another home site than the one they are registered
// at (they moved country after being copied). Migration never re-homes silently (issue 2, point 3: a move
// is re-homed by a command): such rows are refused by `run` and listed by `verify`, with the command.
import type { SubjectRow } from '../../core/store.ts';
import type { Located } from '../site-router.ts';
import type { Classified } from './row-classifier.ts';
import type { MigrationContext } from './migration-context.ts';

type Migrating = Extract<Classified, { kind: 'migrating' }>;

/** Where the rows' subjects are registered (SiteRouter.findSubjects), for the checks of one page to share. */
export type Registered = ReadonlyMap<string, Located<SubjectRow>>;

/**
 * Whether the subject's registration says erased: their rows have no copy, by design (copied and then
 * erased, or never copied), and the purge deletes them with the rest.
 */
export function erasedIn(registered: Registered, subject: string): boolean {
  return registered.get(subject)?.row.erasedAt != null;
}

/** The registrations of the rows' subjects, looked up once for every check of a page. */
export function registeredSubjects(ctx: MigrationContext, rows: readonly Migrating[]): Promise<Registered> {
  return ctx.enclave.router.findSubjects(rows.map((r) => r.record.subject));
}

/**
 * For each row (by encoded key) whose subject is registered at another site than its source country's
 * home site, why. `registered`: the page's registrations when the caller has them already.
 */
export async function residencyConflicts(ctx: MigrationContext, rows: readonly Migrating[], registered?: Registered): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (rows.length === 0) return out;
  registered ??= await registeredSubjects(ctx, rows);
  for (const r of rows) {
    const s = registered.get(r.record.subject);
    if (!s || s.site === r.site) continue;
    const country = r.country.toUpperCase();
    out.set(
      r.encodedKey,
      `subject "${r.record.subject}" is registered in ${s.row.country} at site ${s.site}, but the source now gives ${country} (home site ${r.site}): re-home them (enclave subject rehome ${r.record.subject} --country ${country}), then run again`,
    );
  }
  return out;
}
