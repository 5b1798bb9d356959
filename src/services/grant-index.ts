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
  /**
   * This instance's own changes, by grant id: the epoch each was made at and whether it added the grant.
   * A refresh that read the store before such a change keeps it (its rows may not show it yet); the
   * entries a refresh's epoch has passed are dropped then.
   */
  private readonly local = new Map<string, { readonly at: number; readonly added: boolean }>();

  /** Changes whenever a grant is added or removed. */
  get epoch(): number {
    return this.changes;
  }

  load(rows: readonly GrantRow[]): void {
    this.byPrincipal.clear();
    this.local.clear();
    for (const r of rows) this.insert(r);
    this.changes++;
  }

  /**
   * Brings the index to `rows` (the grants active in the store, read when the index was at `epoch`),
   * except for the grants this instance added or removed since: those keep their local state, which
   * `rows`, read before, may not reflect (the next refresh brings both). So a stream of local changes
   * never holds back a revocation made through another instance. Returns whether the index changed.
   */
  replace(rows: readonly GrantRow[], epoch: number): boolean {
    const recent = new Map<string, boolean>();
    for (const [id, c] of this.local) {
      if (c.at > epoch) recent.set(id, c.added);
      else this.local.delete(id);
    }
    const held = new Map<string, ActiveGrant>();
    for (const list of this.byPrincipal.values()) for (const g of list) held.set(g.id, g);
    const next = new Map<string, ActiveGrant | GrantRow>();
    for (const r of rows) if (r.revokedAt === null && recent.get(r.id) !== false) next.set(r.id, held.get(r.id) ?? r);
    for (const [id, added] of recent) {
      const g = held.get(id);
      if (added && g) next.set(id, g);
    }
    if (next.size === held.size && [...next.keys()].every((id) => held.has(id))) return false;
    this.byPrincipal.clear();
    for (const g of next.values()) this.insert(g);
    this.changes++;
    return true;
  }

  add(row: GrantRow): void {
    this.insert(row);
    this.changes++;
    this.local.set(row.id, { at: this.changes, added: true });
  }

  remove(id: string): void {
    for (const [principal, list] of this.byPrincipal) {
      const kept = list.filter((g) => g.id !== id);
      if (kept.length === list.length) continue;
      if (kept.length === 0) this.byPrincipal.delete(principal);
      else this.byPrincipal.set(principal, kept);
    }
    this.changes++;
    this.local.set(id, { at: this.changes, added: false });
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

  /** Adds an active grant (a store row, or a grant this index already holds). */
  private insert(g: GrantRow | ActiveGrant): void {
    if ('revokedAt' in g && g.revokedAt !== null) return;
    const grant: ActiveGrant =
      'revokedAt' in g
        ? { id: g.id, principal: g.principal, scope: JSON.parse(g.scope) as AccessScope, purpose: g.purpose, breakglass: g.breakglass, expiresAt: g.expiresAt }
        : g;
    const list = this.byPrincipal.get(grant.principal) ?? [];
    this.byPrincipal.set(grant.principal, [...list.filter((x) => x.id !== grant.id), grant]);
  }
}

const NONE: readonly ActiveGrant[] = Object.freeze([]);
