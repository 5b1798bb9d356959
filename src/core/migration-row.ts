// From a legacy row to a record, deterministically: the same row always gives the same record id, the
// same field values and the same canonical form, so a re-run writes nothing new and a verification can
// recompute both sides. Values are converted strictly by field type; a value that does not fit refuses
// the row (with the field named, never the value).
import { createHash, createHmac, type KeyObject } from 'node:crypto';
import { canonicalJson, keepsInsertionOrder, sortKeys } from './canonical-json.ts';
import type { FieldDef } from './config.ts';
import { evaluateCountryExpr } from './country-expression.ts';
import { EnclaveError } from './errors.ts';
import type { CountryRule, ResolvedTable } from './migration-mapping.ts';
import type { KeyTuple, KeyValue, SourceRow, SourceValue } from './migration-source.ts';
import { RECORD_ID_PATTERN } from './api-ids.ts';
import { validateRecordData, type FieldValue, type RecordData } from './record-model.ts';

const RECORD_ID_RE = new RegExp(RECORD_ID_PATTERN);

// ---- keys ---------------------------------------------------------------------------------------

/** The key of a row; null or non-key values refuse it (a key must identify its row). */
export function keyOf(row: SourceRow, key: readonly string[], table: string): KeyTuple {
  return key.map((k) => {
    const v = row[k];
    if (typeof v === 'bigint' || (typeof v === 'string' && v.isWellFormed())) return v;
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    const what = v === null || v === undefined ? 'null' : typeof v === 'string' ? 'text that is not valid Unicode' : `a ${v instanceof Uint8Array ? 'blob' : typeof v}`;
    throw new EnclaveError('invalid_source_data', `table ${table}: key column "${k}" holds ${what}; keys must be text or integers`, {
      details: { key: table, field: k },
    });
  });
}

/** A key as stored in the migration state: canonical JSON, integers beyond 2^53 as decimal strings. */
export function encodeKey(key: KeyTuple): string {
  // canonicalJson of the tuple, spelled out for the common one-column key of an integer or valid text.
  if (key.length === 1) {
    const v = key[0];
    if (typeof v === 'number' && Number.isSafeInteger(v)) return `[${v}]`;
    if (typeof v === 'string' && v.isWellFormed()) return `[${JSON.stringify(v)}]`;
  }
  return canonicalJson(keyValues(key));
}

/** A key's JSON values (integers beyond 2^53 as decimal strings); text must be valid Unicode, as canonical JSON requires. */
function keyValues(key: KeyTuple): (string | number)[] {
  return key.map((v) => {
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'string' && !v.isWellFormed()) throw new EnclaveError('invalid_request', 'not canonicalizable JSON: a key contains a lone UTF-16 surrogate');
    return v;
  });
}

export function decodeKey(text: string): KeyTuple {
  const v = JSON.parse(text) as unknown;
  if (!Array.isArray(v) || !v.every((x): x is KeyValue => typeof x === 'string' || (typeof x === 'number' && Number.isInteger(x)))) {
    throw new EnclaveError('internal', 'a stored migration key is not a key tuple');
  }
  return v;
}

/** The key for people: `42`, `alice`, or `(7, 'x')` for several columns. */
export function showKey(key: KeyTuple): string {
  const one = (v: KeyValue) => (typeof v === 'string' ? JSON.stringify(v) : v.toString());
  return key.length === 1 ? one(key[0] ?? '') : `(${key.map(one).join(', ')})`;
}

// ---- subjects and countries ---------------------------------------------------------------------

export type StayReason = 'no_subject' | 'no_country' | 'invalid_country' | 'outside_jurisdictions' | 'not_selected';

/** The ISO country code a subject row yields, or why it has none. */
export function countryOf(rule: CountryRule, row: SourceRow): { country: string } | { reason: 'no_country' | 'invalid_country' } {
  const value = evaluateCountryExpr(rule.expr, row);
  if (value === null || value.trim() === '') return { reason: 'no_country' };
  const mapped = rule.map.get(value) ?? value;
  const code = mapped.trim().toUpperCase();
  return /^[A-Z]{2}$/.test(code) ? { country: code } : { reason: 'invalid_country' };
}

/** A subject id read from the users table: text or an integer, in record-id form. */
export function subjectIdOf(v: SourceValue | undefined): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v))) return v.toString();
  return undefined;
}

// ---- values -------------------------------------------------------------------------------------

const NAIVE_TIMESTAMP = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$/;
const DECIMAL = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

function refuse(field: FieldDef, why: string): never {
  throw new EnclaveError('invalid_field', `${field.name} ${why}`, { details: { field: field.name } });
}

/** A decimal's digits without leading or trailing zeros and the power of ten they are scaled by: one spelling per value. */
function decimalValue(text: string): string {
  const m = /^(-?)(\d*)\.?(\d*)(?:[eE]([-+]?\d+))?$/.exec(text);
  if (!m) return text;
  const digits = `${m[2] ?? ''}${m[3] ?? ''}`.replace(/^0+/, '');
  const trimmed = digits.replace(/0+$/, '');
  if (trimmed === '') return '0';
  const exponent = Number(m[4] ?? 0) - (m[3] ?? '').length + (digits.length - trimmed.length);
  return `${m[1] ?? ''}${trimmed}e${exponent}`;
}

/** Whether two decimal texts name the same number (`1.50` and `1.5e0` do; `0.1000000000000000000001` and `0.1` do not). */
export function sameDecimal(a: string, b: string): boolean {
  return decimalValue(a) === decimalValue(b);
}

/** One source value as the field's type; throws invalid_field naming the field (never the value). */
export function convertValue(field: FieldDef, v: SourceValue | undefined): FieldValue {
  if (v === null || v === undefined) {
    if (field.required) refuse(field, 'is required but the source holds null');
    return null;
  }
  if (v instanceof Uint8Array) refuse(field, 'cannot be filled from binary data');
  switch (field.type) {
    case 'string':
      if (typeof v === 'string') return v;
      if (typeof v === 'number' || typeof v === 'bigint') return v.toString();
      return refuse(field, `must be text, the source holds a ${typeof v}`);
    case 'integer': {
      const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : typeof v === 'bigint' ? Number(v) : v;
      if (typeof n === 'number' && Number.isSafeInteger(n)) return n;
      return refuse(field, 'must be a whole number within ±2^53');
    }
    case 'number': {
      const n = typeof v === 'string' && DECIMAL.test(v) ? Number(v) : typeof v === 'bigint' ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isFinite(n)) return refuse(field, 'must be a finite number');
      // A value a double cannot hold exactly would be migrated rounded, and verify (which digests the
      // converted record on both sides) could never tell: the purge would delete the only exact copy.
      if (typeof v === 'bigint' ? BigInt(n) !== v : typeof v === 'string' && !sameDecimal(v, String(n))) return refuse(field, 'holds more digits than a number keeps (a 64-bit float); map it to a string field');
      return n;
    }
    case 'boolean':
      if (typeof v === 'boolean') return v;
      if (v === 0 || v === 1 || v === 0n || v === 1n) return v === 1 || v === 1n;
      return refuse(field, 'must be a boolean (or 0/1)');
    case 'timestamp': {
      if (typeof v !== 'string') return refuse(field, 'must be an RFC 3339 timestamp');
      // Engines without zones (SQLite text, MySQL DATETIME) give local-looking times: read as UTC.
      const naive = NAIVE_TIMESTAMP.exec(v);
      if (naive) return `${naive[1] ?? ''}T${(naive[2] ?? '').length === 5 ? `${naive[2] ?? ''}:00` : (naive[2] ?? '')}Z`;
      return v;
    }
  }
}

// ---- records ------------------------------------------------------------------------------------

export interface MappedRecord {
  readonly collection: string;
  readonly id: string;
  readonly subject: string;
  readonly data: RecordData;
}

export function recordIdOf(mappingName: string, t: ResolvedTable, key: KeyTuple): string {
  if (t.recordId === 'key') {
    const id = (key[0] ?? '').toString();
    if (!RECORD_ID_RE.test(id)) {
      throw new EnclaveError('invalid_request', `key ${showKey(key)} cannot be a record id (must match ${RECORD_ID_PATTERN}); use record_id: hash`, { details: { field: 'record_id' } });
    }
    return id;
  }
  const h = createHash('sha256').update(canonicalJson([mappingName, t.table, encodeKey(key)])).digest('hex').slice(0, 40);
  return `${t.table.replace(/[^A-Za-z0-9._:-]/g, '_')}-${h}`;
}

/** The record a migrating row becomes; throws a typed error (refusing the row) when a value does not fit. */
export function mapRow(mappingName: string, t: ResolvedTable, row: SourceRow, key: KeyTuple, subject: string): MappedRecord {
  if (!RECORD_ID_RE.test(subject)) {
    throw new EnclaveError('invalid_request', `subject id must match ${RECORD_ID_PATTERN}`, { details: { field: t.collection.subjectField } });
  }
  const data: Record<string, FieldValue> = { [t.collection.subjectField]: subject };
  for (const f of t.fields) data[f.field.name] = convertValue(f.field, row[f.column]);
  // Checked here to refuse the one row, not its whole batch; frozen, so the vault's check of this same
  // object on write is answered from that one (record-model.ts).
  return { collection: t.collection.name, id: recordIdOf(mappingName, t, key), subject, data: validateRecordData(t.collection, Object.freeze(data)) };
}

/** What a record digest covers: where the row came from and everything the record holds. */
export function canonicalRecord(table: string, key: KeyTuple, r: MappedRecord): string {
  // canonicalJson({ table, key, collection, id, subject, data }) as one JSON.stringify of objects built
  // with their members in code-unit order: JSON.stringify keeps insertion order and writes values as
  // RFC 8785 does (field values are validated finite). A field name an object would not keep in that
  // order (keepsInsertionOrder) takes the general form. test/core/migration-row.test.ts checks it equals it.
  const names = sortKeys(Object.keys(r.data));
  const data: Record<string, FieldValue> = {};
  for (const name of names) {
    if (!keepsInsertionOrder(name)) {
      const all = Object.fromEntries(names.map((n) => [n, r.data[n] ?? null]));
      return canonicalJson({ collection: r.collection, data: all, id: r.id, key: keyValues(key), subject: r.subject, table });
    }
    data[name] = r.data[name] ?? null;
  }
  return JSON.stringify({ collection: r.collection, data, id: r.id, key: keyValues(key), subject: r.subject, table });
}

/** What a digest of a row that stays covers: the whole row as the source holds it. */
export function canonicalSourceRow(table: string, row: SourceRow, columns: readonly string[]): string {
  // Sorted members, JSON.stringify values (lone surrogates escaped rather than refused: a legacy row is
  // digested as it is, whatever it holds).
  let out = '';
  for (const c of [...columns].sort()) {
    const v = row[c] ?? null;
    const json = v instanceof Uint8Array ? JSON.stringify(`base64:${Buffer.from(v).toString('base64')}`) : typeof v === 'bigint' ? JSON.stringify(v.toString()) : JSON.stringify(v);
    out += `${out === '' ? '' : ','}${JSON.stringify(c)}:${json}`;
  }
  return `{"row":{${out}},"table":${JSON.stringify(table)}}`;
}

/**
 * A row digest: HMAC-SHA256 under the migration's digest key. Keyed, because a plain hash of a row with
 * few possible values (a short protected field) would let anyone holding the digest confirm a guess;
 * the key can be handed to an auditor to recompute every digest. The key is a KeyObject: with raw
 * bytes Node would import the key again for every row (about seven times slower).
 */
export function rowDigest(key: KeyObject, canonical: string): Buffer {
  return createHmac('sha256', key).update(canonical).digest();
}
