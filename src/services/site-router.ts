// Finds which home site holds a subject or record. The API never takes a site from the caller: writes go
// to the site residency resolved for the subject, reads look a subject up among the home sites.
import type { EnclaveConfig } from '../core/config.ts';
import { EnclaveError } from '../core/errors.ts';
import { Lru } from '../core/lru.ts';
import type { RecordRow, Store, SubjectRow } from '../core/store.ts';

export interface Located<T> {
  readonly site: string;
  readonly store: Store;
  readonly row: T;
}

export class SiteRouter {
  private readonly stores: ReadonlyMap<string, Store>;
  private readonly order: readonly string[];
  /** subject id → site id; a stale entry only costs a second look (the row is always re-read). */
  private readonly subjectSites: Lru<string, string>;

  constructor(config: EnclaveConfig, stores: ReadonlyMap<string, Store>, cacheSize = 100_000) {
    this.stores = stores;
    this.subjectSites = new Lru(cacheSize);
    this.order = [...config.sites.values()].filter((s) => s.role === 'home' && stores.has(s.id)).map((s) => s.id);
  }

  store(site: string): Store {
    const s = this.stores.get(site);
    if (!s) throw new EnclaveError('no_home_site', `site "${site}" is not open in this enclave`);
    return s;
  }

  get homeSites(): readonly string[] {
    return this.order;
  }

  private candidates(hint: string | undefined): string[] {
    return hint === undefined ? [...this.order] : [hint, ...this.order.filter((s) => s !== hint)];
  }

  async findSubject(id: string): Promise<Located<SubjectRow> | undefined> {
    for (const site of this.candidates(this.subjectSites.get(id))) {
      const store = this.store(site);
      const row = await store.subjects.get(id);
      if (!row) continue;
      if (row.movedTo !== null && row.movedTo !== site) {
        // A re-home in flight: the destination copy is authoritative once it exists.
        const dest = this.stores.get(row.movedTo);
        const moved = dest ? await dest.subjects.get(id) : undefined;
        if (dest && moved) {
          this.subjectSites.set(id, row.movedTo);
          return { site: row.movedTo, store: dest, row: moved };
        }
      }
      this.subjectSites.set(id, site);
      return { site, store, row };
    }
    this.subjectSites.delete(id);
    return undefined;
  }

  /**
   * findSubject for many ids: one lookup per home site for the ids not found yet (bulk loads). A row
   * in the middle of a re-home is resolved one by one, as findSubject does.
   */
  async findSubjects(ids: readonly string[]): Promise<Map<string, Located<SubjectRow>>> {
    const out = new Map<string, Located<SubjectRow>>();
    let left = [...new Set(ids)];
    for (const site of this.order) {
      if (left.length === 0) break;
      const store = this.store(site);
      const rows = await store.subjects.getMany(left);
      for (const [id, row] of rows) {
        const found = row.movedTo !== null && row.movedTo !== site ? await this.findSubject(id) : { site, store, row };
        if (!found) continue;
        this.subjectSites.set(id, found.site);
        out.set(id, found);
      }
      left = left.filter((id) => !rows.has(id));
    }
    for (const id of left) this.subjectSites.delete(id);
    return out;
  }

  /** Of these record ids, those the given home sites (default: all) hold, with each one's subject: one lookup per site. */
  async recordHolders(collection: string, ids: readonly string[], sites: readonly string[] = this.order): Promise<Map<string, string>> {
    const held = new Map<string, string>();
    for (const site of sites) for (const [id, row] of await this.store(site).records.getMany(collection, ids)) held.set(id, row.subject);
    return held;
  }

  /** What `read` finds at the first home site (in order) where it finds anything. */
  private async atFirstSite<T>(read: (store: Store) => Promise<T | undefined>): Promise<{ site: string; store: Store; found: T } | undefined> {
    for (const site of this.order) {
      const store = this.store(site);
      const found = await read(store);
      if (found !== undefined) return { site, store, found };
    }
    return undefined;
  }

  async findRecord(collection: string, id: string): Promise<Located<RecordRow> | undefined> {
    const at = await this.atFirstSite((store) => store.records.get(collection, id));
    return at && { site: at.site, store: at.store, row: at.found };
  }

  /** As findRecord, with the subject's row at that site read in the same statement. */
  async findRecordWithSubject(collection: string, id: string): Promise<(Located<RecordRow> & { subject: SubjectRow | undefined }) | undefined> {
    const at = await this.atFirstSite((store) => store.records.getWithSubject(collection, id));
    return at && { site: at.site, store: at.store, row: at.found.record, subject: at.found.subject };
  }

  remember(subject: string, site: string): void {
    this.subjectSites.set(subject, site);
  }

  forget(subject: string): void {
    this.subjectSites.delete(subject);
  }
}
