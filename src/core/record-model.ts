// What a record is: a collection's fields split by class. Public fields are stored in the clear (they
// may leave the enclave); protected fields are sealed together under the subject's data key.
import { RECORD_ID_PATTERN } from './api-ids.ts';
import type { CollectionDef, FieldDef } from './config.ts';
import { EnclaveError } from './errors.ts';
import { compileDynamic, type Validator } from './schema-validator.ts';

export type FieldValue = string | number | boolean | null;
export type RecordData = Record<string, FieldValue>;

const RECORD_ID_RE = new RegExp(RECORD_ID_PATTERN);
const utf8 = new TextEncoder();

function fieldSchema(f: FieldDef): object {
  const nullable = !f.required;
  switch (f.type) {
    case 'string':
      return nullable
        ? { type: ['string', 'null'], ...(f.maxLength ? { maxLength: f.maxLength } : {}) }
        : { type: 'string', ...(f.maxLength ? { maxLength: f.maxLength } : {}) };
    case 'integer':
      return { type: nullable ? ['integer', 'null'] : 'integer', minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER };
    case 'number':
      return { type: nullable ? ['number', 'null'] : 'number' };
    case 'boolean':
      return { type: nullable ? ['boolean', 'null'] : 'boolean' };
    case 'timestamp':
      return nullable ? { type: ['string', 'null'], format: 'date-time' } : { type: 'string', format: 'date-time' };
  }
}

/** The JSON Schema of a collection's record data; also published in the OpenAPI document. */
export function recordDataSchema(c: CollectionDef): object {
  const properties: Record<string, object> = {};
  for (const f of c.fields.values()) properties[f.name] = fieldSchema(f);
  return {
    type: 'object',
    properties,
    required: [...c.fields.values()].filter((f) => f.required).map((f) => f.name),
    additionalProperties: false,
  };
}

const validators = new WeakMap<CollectionDef, Validator<Record<string, unknown>>>();
/**
 * Frozen data objects already found valid, with their collection: a bulk load checks each row before it
 * reaches the vault (to refuse that row alone), and the vault's own check of the same unchangeable
 * object would find what the first one found.
 */
const valid = new WeakMap<object, CollectionDef>();

/** Validates `data` against the collection; errors name the field, never its value. */
export function validateRecordData(c: CollectionDef, data: unknown): RecordData {
  if (typeof data === 'object' && data !== null && valid.get(data) === c) return data as RecordData;
  let v = validators.get(c);
  if (!v) {
    v = compileDynamic(recordDataSchema(c));
    validators.set(c, v);
  }
  const issues = v.issues(data);
  if (issues.length > 0) {
    const first = issues[0];
    const unknown = issues.find((i) => i.message === 'is not a known key');
    if (unknown) {
      const field = unknown.path.replace(/^\(root\)\.?/, '');
      throw new EnclaveError('unknown_field', `collection "${c.name}" has no field "${field}"`, { details: { field } });
    }
    if (first && first.path === '(root)') {
      throw new EnclaveError('invalid_request', `data ${first.message}`);
    }
    const messages = issues.map((i) => `${i.path} ${i.message}`);
    throw new EnclaveError('invalid_field', `invalid record for collection "${c.name}": ${messages.join('; ')}`, {
      details: { field: first?.path ?? '', problems: messages },
    });
  }
  // JSON cannot carry NaN or ±Infinity, but in-process callers can; JSON.stringify would turn them into null.
  const record = data as Record<string, unknown>;
  for (const k of Object.keys(record)) {
    const v = record[k];
    if (typeof v === 'number' && !Number.isFinite(v)) {
      throw new EnclaveError('invalid_field', `invalid record for collection "${c.name}": ${k} must be a finite number`, { details: { field: k } });
    }
    // RFC 7493 §2.1 (I-JSON): a lone UTF-16 surrogate is no Unicode text, and would be stored and served back
    // as such to every reader (and cannot be canonical JSON in a log entry or a migration digest).
    if (typeof v === 'string' && !v.isWellFormed()) {
      throw new EnclaveError('invalid_field', `invalid record for collection "${c.name}": ${k} is not well-formed Unicode (it holds a lone UTF-16 surrogate)`, { details: { field: k } });
    }
  }
  if (Object.isFrozen(data)) valid.set(record, c);
  return data as RecordData;
}

export function validateRecordId(id: string): string {
  if (!RECORD_ID_RE.test(id)) {
    throw new EnclaveError('invalid_request', `record id must match ${RECORD_ID_PATTERN}`, { details: { field: 'id' } });
  }
  return id;
}

export interface SplitRecord {
  readonly publicData: RecordData;
  /** null when the collection's record carries no protected field */
  readonly protectedData: RecordData | null;
}

export function splitRecord(c: CollectionDef, data: RecordData): SplitRecord {
  const publicData: RecordData = {};
  const protectedData: RecordData = {};
  let anyProtected = false;
  for (const k of Object.keys(data)) {
    const v = data[k] as FieldValue;
    if (c.fields.get(k)?.class === 'protected') {
      protectedData[k] = v;
      anyProtected = true;
    } else publicData[k] = v;
  }
  return { publicData, protectedData: anyProtected ? protectedData : null };
}

/**
 * Associated data for a record's ciphertext: binds it to collection, record id, subject and version, so
 * a ciphertext copied onto another row (or an older version replayed) fails authentication.
 * JSON.stringify of an array of strings and a safe integer is deterministic, hence canonical here.
 */
export function recordAad(collection: string, id: string, subject: string, version: number): Uint8Array {
  return utf8.encode(JSON.stringify(['enclave/record/v1', collection, id, subject, version]));
}

export function subjectKeyAad(site: string, subject: string, keyId: string): Uint8Array {
  return utf8.encode(JSON.stringify(['enclave/dek/v1', site, subject, keyId]));
}
