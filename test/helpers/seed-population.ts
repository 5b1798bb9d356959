// Seeds the vault with the synthetic population through the vault's bulk import: the same validation,
// decision, residency and sealing as the API, one transaction per batch per site. Each batch holds whole
// users (subjects first, then their records), about RECORDS_PER_BATCH records, so a batch touches few
// subjects. Users whose country has no jurisdiction are refused by the vault; they are counted, not stored.
import type { Principal } from '../../src/core/principal.ts';
import type { Enclave } from '../../src/services/enclave.ts';
import type { Progress } from '../../src/cli/progress.ts';
import type { DemoUser, Population } from '../../src/cli/demo/population.ts';

export const RECORDS_PER_BATCH = 1500;

export interface SeedReport {
  readonly users: number;
  /** Subjects registered, by jurisdiction. */
  readonly subjects: ReadonlyMap<string, number>;
  /** Records created, by collection. */
  readonly records: ReadonlyMap<string, number>;
  /** Users refused because their country belongs to no jurisdiction, with their records and countries. */
  readonly outside: { readonly users: number; readonly records: number; readonly countries: ReadonlyMap<string, number> };
  readonly ms: number;
}

const add = <K>(m: Map<K, number>, k: K, n = 1) => m.set(k, (m.get(k) ?? 0) + n);

export async function seedPopulation(enclave: Enclave, principal: Principal, population: Population, progress: Progress): Promise<SeedReport> {
  const started = performance.now();
  const subjects = new Map<string, number>();
  const records = new Map<string, number>();
  const outsideCountries = new Map<string, number>();
  let outsideUsers = 0;
  let outsideRecords = 0;
  let created = 0;

  let next = 0;
  while (next < population.size) {
    const batch: DemoUser[] = [];
    let size = 0;
    while (next < population.size && size < RECORDS_PER_BATCH) {
      const user = population.user(next++);
      batch.push(user);
      size += user.records.length;
    }

    const registered = await enclave.vault.importSubjects(principal, batch.map((u) => ({ id: u.id, country: u.country })));
    const refused = new Map(registered.refused.map((r) => [r.id, r.code]));
    const byCollection = new Map<string, { id: string; data: unknown }[]>();
    for (const user of batch) {
      const why = refused.get(user.id);
      if (why === 'no_jurisdiction') {
        outsideUsers += 1;
        outsideRecords += user.records.length;
        add(outsideCountries, user.country);
        continue;
      }
      if (why !== undefined) throw new Error(`the vault refused demo user ${user.id}: ${why}`);
      add(subjects, enclave.config.countryIndex.get(user.country) ?? '?');
      for (const r of user.records) {
        const list = byCollection.get(r.collection) ?? [];
        list.push({ id: r.id, data: r.data });
        byCollection.set(r.collection, list);
      }
    }
    for (const [collection, items] of byCollection) {
      const result = await enclave.vault.importRecords(principal, collection, items);
      const first = result.refused[0];
      if (first) throw new Error(`the vault refused demo record ${collection}/${first.id}: ${first.code}`);
      add(records, collection, result.created);
      created += result.created;
    }
    progress.update(next, { records: created });
  }
  progress.stop();
  return {
    users: population.size,
    subjects,
    records,
    outside: { users: outsideUsers, records: outsideRecords, countries: outsideCountries },
    ms: performance.now() - started,
  };
}
