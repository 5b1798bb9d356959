// The migration mapping: which legacy tables feed which collections, column by column; how each row finds
// its subject (a column holding the subject id, or a join to the users table); how a subject's country
// is found (a column or a small expression, see country-expression.ts); and the keys rows are read by.
// parseMapping checks the file on its own (errors name the table and column); resolveMapping then checks
// it against the live source schema and the configuration before anything moves.
import { Type, type Static } from 'typebox';
import { canonicalJson, type JsonValue } from './canonical-json.ts';
import type { CollectionDef, EnclaveConfig, FieldDef } from './config.ts';
import { ID_PATTERN } from './api-ids.ts';
import { exprColumns, formatCountryExpr, parseCountryExpr, type CountryExpr } from './country-expression.ts';
import { EnclaveError } from './errors.ts';
import type { ColumnKind, SourceColumn, SourceKind, SourceTable } from './migration-source.ts';
import { compile } from './schema-validator.ts';

export const IDENT_PATTERN = '^[A-Za-z_][A-Za-z0-9_$]{0,62}$';
const Ident = Type.String({ pattern: IDENT_PATTERN });
const Id = Type.String({ pattern: ID_PATTERN });
const Url = Type.String({ minLength: 1, maxLength: 2048 });

export const MappingSchema = Type.Object(
  {
    version: Type.Literal(1),
    name: Id,
    description: Type.Optional(Type.String({ maxLength: 1000 })),
    source: Type.Object(
      {
        site: Type.Optional(Id),
        sqlite: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
        postgres: Type.Optional(Type.Union([Url, Type.Object({ url: Url, schema: Type.Optional(Ident) }, { additionalProperties: false })])),
        mysql: Type.Optional(Url),
        jsonl: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
      },
      { additionalProperties: false },
    ),
    jurisdictions: Type.Optional(Type.Array(Id, { minItems: 1, uniqueItems: true })),
    subjects: Type.Object(
      {
        table: Ident,
        id: Ident,
        key: Type.Optional(Ident),
        country: Type.Union([
          Ident,
          Type.Object(
            {
              column: Type.Optional(Ident),
              expr: Type.Optional(Type.String({ minLength: 1 })),
              map: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 64 }), Type.String({ pattern: '^[A-Za-z]{2}$' }))),
            },
            { additionalProperties: false },
          ),
        ]),
      },
      { additionalProperties: false },
    ),
    tables: Type.Array(
      Type.Object(
        {
          table: Ident,
          collection: Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' }),
          key: Type.Optional(Type.Array(Ident, { minItems: 1, maxItems: 8, uniqueItems: true })),
          subject: Type.Optional(
            Type.Union([
              Ident,
              Type.Object({ column: Ident }, { additionalProperties: false }),
              Type.Object({ join: Ident }, { additionalProperties: false }),
            ]),
          ),
          record_id: Type.Optional(Type.Union([Type.Literal('key'), Type.Literal('hash')])),
          fields: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' }), Ident, { minProperties: 1 }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 256 },
    ),
  },
  { additionalProperties: false },
);
export type RawMapping = Static<typeof MappingSchema>;

export type SourceSpec =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'postgres'; readonly url: string; readonly schema: string }
  | { readonly kind: 'mysql'; readonly url: string }
  | { readonly kind: 'jsonl'; readonly dir: string };

export interface CountryRule {
  readonly expr: CountryExpr;
  /** Source values → ISO 3166-1 alpha-2 codes, applied to the expression's result. */
  readonly map: ReadonlyMap<string, string>;
}

/** How a row finds its subject: it is the subject's row, or a column holds the subject id, or the users table's key. */
export type SubjectLink = { readonly kind: 'self' } | { readonly kind: 'column'; readonly column: string } | { readonly kind: 'join'; readonly column: string };

export interface TableMapping {
  readonly table: string;
  readonly collection: string;
  readonly key: readonly string[] | undefined;
  readonly subject: SubjectLink;
  readonly recordId: 'key' | 'hash' | undefined;
  /** [field, column] in the file's order. */
  readonly fields: readonly (readonly [string, string])[];
}

export interface MigrationMapping {
  readonly name: string;
  readonly source: SourceSpec & { readonly site: string | undefined };
  readonly jurisdictions: readonly string[] | undefined;
  readonly subjects: { readonly table: string; readonly id: string; readonly key: string; readonly country: CountryRule };
  readonly tables: readonly TableMapping[];
  /** SHA-256 of the canonical mapping: a migration refuses to continue under a changed mapping. */
  readonly hash: string;
}

const validateRaw = compile(MappingSchema);

function fail(code: 'invalid_mapping' | 'mapping_mismatch', problems: readonly string[], source: string): never {
  const head = problems.length === 1 ? problems[0] : `${problems.length} problems:\n  - ${problems.join('\n  - ')}`;
  throw new EnclaveError(code, `${source}: ${head}`, { details: { problems } });
}

function tableLabel(i: number, t: { table?: unknown }): string {
  return `tables[${i}] (${typeof t.table === 'string' ? t.table : '?'})`;
}

/** Validates an already-parsed mapping document (YAML → plain data). `hashOf` hashes its canonical JSON. */
export function parseMapping(doc: unknown, source: string, hashOf: (canonical: string) => string): MigrationMapping {
  const issues = validateRaw.issues(doc);
  if (issues.length > 0) {
    // Name the table whose entry is wrong, not just its index.
    const raw = doc as { tables?: unknown };
    const label = (path: string) =>
      path.replace(/^tables\[(\d+)\]/, (m, i: string) => {
        const t = Array.isArray(raw.tables) ? (raw.tables[Number(i)] as { table?: unknown } | undefined) : undefined;
        return t && typeof t === 'object' ? tableLabel(Number(i), t) : m;
      });
    fail('invalid_mapping', issues.map((i) => `${label(i.path)} ${i.message}`), source);
  }
  const raw = doc as RawMapping;
  const problems: string[] = [];

  const kinds = (['sqlite', 'postgres', 'mysql', 'jsonl'] as const).filter((k) => raw.source[k] !== undefined);
  if (kinds.length !== 1) problems.push(`source must name exactly one of sqlite, postgres, mysql, jsonl (found ${kinds.length === 0 ? 'none' : kinds.join(', ')})`);
  let spec: SourceSpec = { kind: 'sqlite', path: '' };
  const pg = raw.source.postgres;
  if (raw.source.sqlite !== undefined) spec = { kind: 'sqlite', path: raw.source.sqlite };
  else if (pg !== undefined) spec = typeof pg === 'string' ? { kind: 'postgres', url: pg, schema: 'public' } : { kind: 'postgres', url: pg.url, schema: pg.schema ?? 'public' };
  else if (raw.source.mysql !== undefined) spec = { kind: 'mysql', url: raw.source.mysql };
  else if (raw.source.jsonl !== undefined) spec = { kind: 'jsonl', dir: raw.source.jsonl };
  if (spec.kind === 'postgres' && !/^postgres(ql)?:\/\//.test(spec.url)) problems.push('source.postgres must be a postgres:// URL');
  if (spec.kind === 'mysql' && !/^(mysql|mariadb):\/\//.test(spec.url)) problems.push('source.mysql must be a mysql:// URL');

  const c = raw.subjects.country;
  let country: CountryRule = { expr: { kind: 'column', name: raw.subjects.id }, map: new Map() };
  if (typeof c === 'string') country = { expr: { kind: 'column', name: c }, map: new Map() };
  else {
    if ((c.column === undefined) === (c.expr === undefined)) problems.push('subjects.country must give exactly one of column or expr');
    else {
      try {
        const expr: CountryExpr = c.column !== undefined ? { kind: 'column', name: c.column } : parseCountryExpr(c.expr ?? '', 'subjects.country.expr');
        country = { expr, map: new Map(Object.entries(c.map ?? {}).map(([k, v]) => [k, v.toUpperCase()])) };
      } catch (err) {
        if (!(err instanceof EnclaveError)) throw err;
        problems.push(err.message);
      }
    }
  }

  const seen = new Map<string, number>();
  const tables: TableMapping[] = raw.tables.map((t, i) => {
    const label = tableLabel(i, t);
    const prior = seen.get(t.table);
    if (prior !== undefined) problems.push(`${label}: table ${t.table} is already mapped by tables[${prior}]`);
    seen.set(t.table, i);
    const isSubjects = t.table === raw.subjects.table;
    let subject: SubjectLink = { kind: 'self' };
    if (isSubjects) {
      if (t.subject !== undefined) problems.push(`${label}.subject: ${t.table} is the subjects table, each row is a subject itself; remove subject`);
    } else if (t.subject === undefined) {
      problems.push(`${label}.subject is required: name the column holding the subject id, or { join: <column> } holding the ${raw.subjects.table} key`);
    } else if (typeof t.subject === 'string') subject = { kind: 'column', column: t.subject };
    else if ('column' in t.subject) subject = { kind: 'column', column: t.subject.column };
    else subject = { kind: 'join', column: t.subject.join };
    if (t.record_id === 'key' && t.key !== undefined && t.key.length > 1) problems.push(`${label}.record_id "key" needs a one-column key; use "hash" for a key of ${t.key.length} columns`);
    return { table: t.table, collection: t.collection, key: t.key, subject, recordId: t.record_id, fields: Object.entries(t.fields) };
  });
  if (!seen.has(raw.subjects.table)) {
    problems.push(`subjects.table ${raw.subjects.table} must also be mapped under tables: its rows are the subjects' own data, migrated and purged with them`);
  }
  if (problems.length > 0) fail('invalid_mapping', problems, source);

  let canonical: string;
  try {
    canonical = canonicalJson(JSON.parse(JSON.stringify(doc)) as JsonValue);
  } catch {
    fail('invalid_mapping', ['the mapping holds text that is not valid Unicode'], source);
  }
  return {
    name: raw.name,
    source: { ...spec, site: raw.source.site },
    jurisdictions: raw.jurisdictions,
    subjects: { table: raw.subjects.table, id: raw.subjects.id, key: raw.subjects.key ?? raw.subjects.id, country },
    tables,
    hash: hashOf(canonical),
  };
}

// ---- against the live schema and the configuration -------------------------------------------------

export interface ResolvedField {
  readonly field: FieldDef;
  readonly column: string;
  readonly kind: ColumnKind;
}

export interface ResolvedTable {
  readonly index: number;
  readonly table: string;
  readonly collection: CollectionDef;
  readonly key: readonly string[];
  readonly subject: SubjectLink;
  readonly recordId: 'key' | 'hash';
  /** Mapped fields, the subject field excluded (it is filled from the subject). */
  readonly fields: readonly ResolvedField[];
  /** Columns to read for migrating: key, subject link, mapped fields (and the subject's own for the subjects table). */
  readonly columns: readonly string[];
  /** Every column of the table, for the digest of the rows that stay. */
  readonly allColumns: readonly string[];
}

export interface ResolvedMapping {
  readonly mapping: MigrationMapping;
  readonly subjects: {
    readonly table: string;
    readonly id: string;
    readonly key: string;
    readonly country: CountryRule;
    /** Columns a subject lookup reads: id, key and those the country rule uses. */
    readonly columns: readonly string[];
  };
  /** In the mapping's order. */
  readonly tables: readonly ResolvedTable[];
  /** Jurisdictions whose subjects move. */
  readonly jurisdictions: ReadonlySet<string>;
}

/** Which source column kinds each field type accepts (values are still checked row by row). */
export const FIELD_ACCEPTS: Readonly<Record<FieldDef['type'], readonly ColumnKind[]>> = {
  string: ['text', 'date', 'timestamp', 'decimal', 'json', 'other'],
  integer: ['integer', 'other'],
  number: ['integer', 'real', 'decimal', 'other'],
  boolean: ['boolean', 'integer', 'other'],
  timestamp: ['timestamp', 'text', 'other'],
};

const KEY_KINDS: readonly ColumnKind[] = ['text', 'integer', 'other'];
/** A PostgreSQL uuid column (its kind is text: its values read as text). */
const isUuid = (c: SourceColumn): boolean => c.nativeType.toLowerCase() === 'uuid';

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/**
 * Checks the mapping against the live source schema and the configuration: every table and column
 * exists, column types fit their fields, keys are unique keys of their tables, collections and
 * jurisdictions exist. All problems are reported at once, each naming its table and column.
 */
export function resolveMapping(mapping: MigrationMapping, config: EnclaveConfig, live: readonly SourceTable[], source: string, sourceKind: SourceKind): ResolvedMapping {
  const problems: string[] = [];
  const byName = new Map(live.map((t) => [t.name, t]));
  const names = () => live.map((t) => t.name).join(', ') || 'none';
  const columnOf = (t: SourceTable, name: string, where: string): SourceColumn | undefined => {
    const col = t.columns.find((c) => c.name === name);
    if (!col) problems.push(`${where}: column "${name}" does not exist in source table ${t.name} (columns: ${t.columns.map((c) => c.name).join(', ')})`);
    return col;
  };

  const jurisdictions = new Set<string>();
  for (const j of mapping.jurisdictions ?? [...config.jurisdictions.values()].filter((x) => x.homeSite !== undefined).map((x) => x.id)) {
    const def = config.jurisdictions.get(j);
    if (!def) problems.push(`jurisdictions: "${j}" is not a jurisdiction of the configuration (expected one of: ${[...config.jurisdictions.keys()].join(', ')})`);
    else if (def.homeSite === undefined) problems.push(`jurisdictions: "${j}" has no home site to migrate to`);
    else jurisdictions.add(j);
  }
  const site = mapping.source.site;
  if (site !== undefined) {
    const def = config.sites.get(site);
    if (!def) problems.push(`source.site: "${site}" is not a site of the configuration`);
    else if (def.role !== 'legacy') problems.push(`source.site: "${site}" has role "${def.role}"; a migration source is a legacy site`);
  }

  const s = mapping.subjects;
  const subjectsTable = byName.get(s.table);
  const subjectColumns = [...new Set([s.id, s.key, ...exprColumns(s.country.expr)])];
  if (!subjectsTable) problems.push(`subjects.table: source table ${s.table} does not exist (tables: ${names()})`);
  else {
    const id = columnOf(subjectsTable, s.id, 'subjects.id');
    if (id && !KEY_KINDS.includes(id.kind)) problems.push(`subjects.id: column "${s.id}" of ${s.table} is ${id.nativeType}; a subject id must be text or an integer`);
    if (s.key !== s.id) columnOf(subjectsTable, s.key, 'subjects.key');
    for (const col of exprColumns(s.country.expr)) columnOf(subjectsTable, col, `subjects.country (${formatCountryExpr(s.country.expr)})`);
    // A lookup must find at most one subject: the columns rows refer to must be unique.
    const unique = (c: string) => sameSet(subjectsTable.primaryKey, [c]) || subjectsTable.uniqueKeys.some((u) => sameSet(u, [c]));
    for (const [what, c] of [['id', s.id], ['key', s.key]] as const) {
      if (sourceKind !== 'jsonl' && subjectsTable.columns.some((x) => x.name === c) && !unique(c)) {
        problems.push(`subjects.${what}: column "${c}" of ${s.table} is neither its primary key nor a unique index, so a row could find several subjects`);
      }
    }
  }

  const tables: ResolvedTable[] = [];
  mapping.tables.forEach((t, index) => {
    const label = `tables[${index}] (${t.table})`;
    const src = byName.get(t.table);
    const collection = config.collections.get(t.collection);
    if (!collection) problems.push(`${label}.collection: "${t.collection}" is not a collection of the configuration (expected one of: ${[...config.collections.keys()].join(', ')})`);
    if (!src) {
      problems.push(`${label}: source table ${t.table} does not exist (tables: ${names()})`);
      return;
    }
    let key = t.key ?? src.primaryKey;
    if (t.key === undefined && src.primaryKey.length === 0) {
      problems.push(`${label}.key is required: table ${t.table} has no primary key${sourceKind === 'jsonl' ? ' (JSON Lines files never declare one)' : ''}`);
      key = [];
    }
    // A key the mapping names that is not the table's primary key must be a unique index's, NOT NULL (a
    // unique index admits any number of NULLs, and a row without a key cannot be read in key order).
    const indexKey = t.key !== undefined && sourceKind !== 'jsonl' && !sameSet(t.key, src.primaryKey);
    for (const k of key) {
      const col = columnOf(src, k, `${label}.key`);
      if (col && !KEY_KINDS.includes(col.kind)) problems.push(`${label}.key: column "${k}" is ${col.nativeType}; key columns must be text or integers`);
      if (col?.nullable === true && indexKey) problems.push(`${label}.key: column "${k}" of ${t.table} admits NULL; a key from a unique index must be NOT NULL`);
    }
    if (indexKey && !src.uniqueKeys.some((u) => sameSet(u, key))) {
      problems.push(`${label}.key (${key.join(', ')}) is neither the primary key nor a unique index of ${t.table}: rows could be skipped or read twice`);
    }
    if (t.subject.kind !== 'self') {
      const link = columnOf(src, t.subject.column, `${label}.subject`);
      // The lookup compares the two columns in the engine: text against an integer is an error there
      // (PostgreSQL) or a conversion (MySQL, SQLite), never a match a mapping should rest on.
      const target = t.subject.kind === 'join' ? s.key : s.id;
      const referred = subjectsTable?.columns.find((c) => c.name === target);
      if (link && referred && sourceKind !== 'jsonl' && link.kind !== referred.kind && [link.kind, referred.kind].every((k) => k === 'text' || k === 'integer')) {
        problems.push(`${label}.subject: column "${t.subject.column}" of ${t.table} is ${link.nativeType} (${link.kind}) but subjects.${t.subject.kind === 'join' ? 'key' : 'id'} "${target}" of ${s.table} is ${referred.nativeType} (${referred.kind}); a join compares them as they are, so both must be text or both integers`);
      } else if (link && referred && sourceKind === 'postgres' && isUuid(link) !== isUuid(referred) && link.kind === 'text' && referred.kind === 'text') {
        // PostgreSQL reads a lookup's values as the subjects' column's type: against uuid, one text value
        // that is no uuid fails the whole plan or run; against text, a uuid spelled otherwise finds no one.
        const show = (c: SourceColumn) => (isUuid(c) ? 'uuid' : `${c.nativeType} (${c.kind})`);
        problems.push(`${label}.subject: column "${t.subject.column}" of ${t.table} is ${show(link)} but subjects.${t.subject.kind === 'join' ? 'key' : 'id'} "${target}" of ${s.table} is ${show(referred)}; PostgreSQL compares them as the subjects' column's type, so a value that is no uuid would fail the whole lookup and a uuid spelled otherwise would find no subject: both must be uuid or neither`);
      }
    }
    const fields: ResolvedField[] = [];
    for (const [fname, column] of t.fields) {
      const where = `${label}.fields.${fname}`;
      const col = columnOf(src, column, where);
      if (!collection) continue;
      const field = collection.fields.get(fname);
      if (!field) {
        problems.push(`${where}: collection "${collection.name}" has no field "${fname}" (fields: ${[...collection.fields.keys()].join(', ')})`);
        continue;
      }
      if (fname === collection.subjectField) {
        const holdsId = (t.subject.kind === 'self' && column === s.id) || (t.subject.kind === 'column' && column === t.subject.column);
        if (!holdsId) problems.push(`${where}: ${fname} is the collection's subject field, filled from the row's subject; map it to the subject id column or leave it out`);
        continue;
      }
      if (!col) continue;
      if (!FIELD_ACCEPTS[field.type].includes(col.kind)) {
        problems.push(`${where}: column "${column}" of ${t.table} is ${col.nativeType} (${col.kind}), which cannot fill a field of type ${field.type} (accepted: ${FIELD_ACCEPTS[field.type].join(', ')})`);
      }
      if (field.class === 'protected' && key.includes(column)) {
        problems.push(`${where}: key column "${column}" is mapped to a protected field; keys are kept in the clear (record ids, migration state), so a key must not be protected data`);
      }
      if (field.class === 'protected' && t.subject.kind === 'self' && column === s.id) {
        problems.push(`${where}: the subject id column "${column}" is mapped to a protected field; subject ids are stored in the clear`);
      }
      fields.push({ field, column, kind: col.kind });
    }
    if (collection) {
      const mapped = new Set(t.fields.map(([f]) => f));
      for (const f of collection.fields.values()) {
        if (f.required && f.name !== collection.subjectField && !mapped.has(f.name)) problems.push(`${label}.fields: required field "${f.name}" of collection "${collection.name}" is not mapped`);
      }
    }
    const recordId = t.recordId ?? (key.length === 1 ? 'key' : 'hash');
    if (recordId === 'key' && key.length > 1) problems.push(`${label}.record_id "key" needs a one-column key; use "hash" for a key of ${key.length} columns`);
    const columns = [...new Set([...key, ...(t.subject.kind === 'self' ? subjectColumns : [t.subject.column]), ...fields.map((f) => f.column)])];
    if (collection) {
      tables.push({ index, table: t.table, collection, key, subject: t.subject, recordId, fields, columns, allColumns: src.columns.map((c) => c.name) });
    }
  });

  if (problems.length > 0) fail('mapping_mismatch', problems, source);
  return { mapping, subjects: { table: s.table, id: s.id, key: s.key, country: s.country, columns: subjectColumns }, tables, jurisdictions };
}
