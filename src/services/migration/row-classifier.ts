// Sorts source rows into the ones that move (with the record each becomes), the ones a subject's
// jurisdiction keeps where they are, and the ones that should move but cannot (a value that does not
// fit). Plan, run, verify and purge all classify through here, so they always agree on what moves.
// Subjects are looked up a page at a time (one IN query for the page) and remembered in a bounded cache.
import type { EnclaveConfig } from '../../core/config.ts';
import { EnclaveError, type ErrorCode } from '../../core/errors.ts';
import { Lru } from '../../core/lru.ts';
import type { ResolvedMapping, ResolvedTable } from '../../core/migration-mapping.ts';
import { countryOf, encodeKey, keyOf, mapRow, subjectIdOf, type MappedRecord, type StayReason } from '../../core/migration-row.ts';
import type { KeyTuple, KeyValue, SourceReader, SourceRow } from '../../core/migration-source.ts';

interface SubjectInfo {
  readonly id: string | undefined;
  readonly country: string | undefined;
  readonly reason: 'no_country' | 'invalid_country' | undefined;
}

export type Classified =
  | {
      readonly kind: 'migrating';
      readonly key: KeyTuple;
      readonly encodedKey: string;
      readonly record: MappedRecord;
      readonly country: string;
      readonly jurisdiction: string;
      readonly site: string;
      readonly row: SourceRow;
    }
  | { readonly kind: 'refused'; readonly key: KeyTuple; readonly encodedKey: string; readonly code: ErrorCode; readonly message: string; readonly jurisdiction: string; readonly row: SourceRow }
  | { readonly kind: 'stay'; readonly key: KeyTuple; readonly encodedKey: string; readonly reason: StayReason; readonly jurisdiction: string | undefined; readonly row: SourceRow };

export class RowClassifier {
  private readonly resolved: ResolvedMapping;
  private readonly config: EnclaveConfig;
  /** By subjects.id value and by subjects.key value (`join` links). */
  private readonly byId: Lru<string, SubjectInfo | null>;
  private readonly byKey: Lru<string, SubjectInfo | null>;

  constructor(resolved: ResolvedMapping, config: EnclaveConfig, cacheSize: number) {
    this.resolved = resolved;
    this.config = config;
    this.byId = new Lru(cacheSize);
    this.byKey = new Lru(cacheSize);
  }

  /**
   * Forgets every subject looked up: each operation starts from the source as it is now (a live source
   * may have moved a subject to another country since the last one).
   */
  clear(): void {
    this.byId.clear();
    this.byKey.clear();
  }

  private info(row: SourceRow): SubjectInfo {
    const s = this.resolved.subjects;
    const c = countryOf(s.country, row);
    return { id: subjectIdOf(row[s.id]), country: 'country' in c ? c.country : undefined, reason: 'reason' in c ? c.reason : undefined };
  }

  /** Looks up, in one query per page, the subjects the rows refer to and that are not cached. */
  private async subjectsFor(t: ResolvedTable, rows: readonly SourceRow[], reader: SourceReader): Promise<(SubjectInfo | null)[]> {
    const link = t.subject;
    if (link.kind === 'self') return rows.map((r) => this.info(r));
    const s = this.resolved.subjects;
    const cache = link.kind === 'join' ? this.byKey : this.byId;
    const by = link.kind === 'join' ? s.key : s.id;
    const refs = rows.map((r) => r[link.column]);
    const wanted = new Map<string, KeyValue>();
    for (const v of refs) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'bigint') continue;
      const k = String(v);
      if (cache.get(k) === undefined && !wanted.has(k)) wanted.set(k, v);
    }
    if (wanted.size > 0) {
      const lookup = (values: KeyValue[]) => reader.lookup({ table: s.table, columns: s.columns, by, values });
      const several = (k: string) => new EnclaveError('invalid_source_data', `table ${s.table}: several rows have ${by} = ${JSON.stringify(k)}; subjects.${link.kind === 'join' ? 'key' : 'id'} must be unique`);
      const found = await lookup([...wanted.values()]);
      const seen = new Set<string>();
      for (const r of found) {
        const k = String(r[by]);
        if (seen.has(k)) throw several(k);
        seen.add(k);
        cache.set(k, this.info(r));
      }
      // The source compares by its own rules (a case- or accent-insensitive collation, trailing spaces,
      // a conversion between types), so a value that came back under no spelling of its own may still
      // equal a row it returned: such values are asked one at a time, and each joins the row the
      // source's own join would give it. Where nothing came back, nothing can equal it.
      for (const [k, v] of wanted) {
        if (seen.has(k)) continue;
        const rows = found.length === 0 ? [] : await lookup([v]);
        if (rows.length > 1) throw several(k);
        cache.set(k, rows[0] === undefined ? null : this.info(rows[0]));
      }
    }
    return refs.map((v) => (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' ? (cache.get(String(v)) ?? null) : null));
  }

  async classify(t: ResolvedTable, rows: readonly SourceRow[], reader: SourceReader, mappingName: string): Promise<Classified[]> {
    const subjects = await this.subjectsFor(t, rows, reader);
    const out: Classified[] = [];
    rows.forEach((row, i) => {
      const key = keyOf(row, t.key, t.table);
      const encodedKey = encodeKey(key);
      const subject = subjects[i] ?? null;
      if (subject === null || subject.id === undefined) return out.push({ kind: 'stay', key, encodedKey, reason: 'no_subject', jurisdiction: undefined, row });
      if (subject.country === undefined) return out.push({ kind: 'stay', key, encodedKey, reason: subject.reason ?? 'no_country', jurisdiction: undefined, row });
      const jurisdiction = this.config.countryIndex.get(subject.country);
      if (jurisdiction === undefined) return out.push({ kind: 'stay', key, encodedKey, reason: 'outside_jurisdictions', jurisdiction: undefined, row });
      if (!this.resolved.jurisdictions.has(jurisdiction)) return out.push({ kind: 'stay', key, encodedKey, reason: 'not_selected', jurisdiction, row });
      const site = this.config.jurisdictions.get(jurisdiction)?.homeSite ?? '';
      try {
        const record = mapRow(mappingName, t, row, key, subject.id);
        return out.push({ kind: 'migrating', key, encodedKey, record, country: subject.country, jurisdiction, site, row });
      } catch (err) {
        if (!(err instanceof EnclaveError)) throw err;
        return out.push({ kind: 'refused', key, encodedKey, code: err.code, message: err.message, jurisdiction, row });
      }
    });
    return out;
  }
}
