// The active grants, by grantee, in memory: the decision point consults it on every read, so it must
// not cost a query. The access service updates it with every grant it creates or revokes (bumping the
// epoch, which is part of every decision-cache key); expiry needs no update: a grant past its
// `expiresAt` is simply skipped, by the clock, with no job to run. Grants created or revoked by another
// instance arrive through `replace`, which the shared-state refresh calls every second (shared-state.ts).
import type { AccessScope } from '../core/access-scope.ts';
import type { GrantRow } from '../core/store.ts';

export interface ActiveGrant {
  readonly id: string;
  readonly principal: string;
  readonly scope: AccessScope;
  readonly purpose: string;
  readonly breakglass: boolean;
  readonly expiresAt: number;
}

export class GrantIndex {
  private readonly byPrincipal = new Map<string, ActiveGrant[]>();
  private changes = 0;

  /** Changes whenever a grant is added or removed. */
  get epoch(): number {
    return this.changes;
  }

  load(rows: readonly GrantRow[]): void {
    this.byPrincipal.clear();
    for (const r of rows) this.insert(r);
    this.changes++;
  }

  /**
   * Replaces the index with `rows` (the grants active in the store) if they differ from what it holds,
   * unless the index changed since `epoch` (a grant this instance added or removed meanwhile, which
   * `rows`, read before, may not reflect: the next refresh brings both). Returns whether it changed.
   */
  replace(rows: readonly GrantRow[], epoch: number): boolean {
    if (epoch !== this.changes) return false;
    const held = new Set<string>();
    for (const list of this.byPrincipal.values()) for (const g of list) held.add(g.id);
    const active = rows.filter((r) => r.revokedAt === null);
    if (active.length === held.size && active.every((r) => held.has(r.id))) return false;
    this.load(active);
    return true;
  }

  add(row: GrantRow): void {
    this.insert(row);
    this.changes++;
  }

  remove(id: string): void {
    for (const [principal, list] of this.byPrincipal) {
      const kept = list.filter((g) => g.id !== id);
      if (kept.length === list.length) continue;
      if (kept.length === 0) this.byPrincipal.delete(principal);
      else this.byPrincipal.set(principal, kept);
    }
    this.changes++;
  }

  /** The principal's grants still active at `now` (none: an empty array, without allocating). */
  active(principal: string, now: number): readonly ActiveGrant[] {
    const list = this.byPrincipal.get(principal);
    if (!list) return NONE;
    return list.some((g) => g.expiresAt <= now) ? list.filter((g) => g.expiresAt > now) : list;
  }

  /** The earliest expiry after `now` among the principal's grants: decisions about them hold until then. */
  nextExpiry(principal: string, now: number): number {
    let next = Number.POSITIVE_INFINITY;
    for (const g of this.byPrincipal.get(principal) ?? NONE) if (g.expiresAt > now && g.expiresAt < next) next = g.expiresAt;
    return next;
  }

  private insert(row: GrantRow): void {
    if (row.revokedAt !== null) return;
    const grant: ActiveGrant = {
      id: row.id,
      principal: row.principal,
      scope: JSON.parse(row.scope) as AccessScope,
      purpose: row.purpose,
      breakglass: row.breakglass,
      expiresAt: row.expiresAt,
    };
    const list = this.byPrincipal.get(row.principal) ?? [];
    this.byPrincipal.set(row.principal, [...list.filter((g) => g.id !== row.id), grant]);
  }
}

const NONE: readonly ActiveGrant[] = Object.freeze([]);
