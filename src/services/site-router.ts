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
  private readonly subjectSites = new Lru<string, string>(100_000);

  constructor(config: EnclaveConfig, stores: ReadonlyMap<string, Store>) {
    this.stores = stores;
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

  async findRecord(collection: string, id: string): Promise<Located<RecordRow> | undefined> {
    for (const site of this.order) {
      const store = this.store(site);
      const row = await store.records.get(collection, id);
      if (row) return { site, store, row };
    }
    return undefined;
  }

  remember(subject: string, site: string): void {
    this.subjectSites.set(subject, site);
  }

  forget(subject: string): void {
    this.subjectSites.delete(subject);
  }
}
