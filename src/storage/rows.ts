// Row mapping shared by every SQL adapter: both schemas use the same snake_case columns, so a driver's
// row object (SQLite values, or PostgreSQL's with int8 as numbers and bytea as Buffer) maps the same way.
import type { RecordRow, SubjectRow, TokenRow, TokenWithPrincipal } from '../core/store.ts';

export type SqlRow = Readonly<Record<string, unknown>>;
/** A parameter value both drivers bind as is. */
export type SqlValue = string | number | Uint8Array | null;

// Column lists and the matching parameter values, in one order, for the adapters' INSERT statements.
export const SUBJECT_COLUMNS = 'id, country, jurisdiction, wrapped_key, key_id, created_at, erased_at, moved_to';
export function subjectValues(r: SubjectRow): SqlValue[] {
  return [r.id, r.country, r.jurisdiction, r.wrappedKey, r.keyId, r.createdAt, r.erasedAt, r.movedTo];
}
export const RECORD_COLUMNS = 'collection, id, subject, version, public_json, sealed, created_at, updated_at';
export function recordValues(r: RecordRow): SqlValue[] {
  return [r.collection, r.id, r.subject, r.version, r.publicJson, r.sealed, r.createdAt, r.updatedAt];
}
export const TOKEN_COLUMNS = 'id, hash, principal_id, label, created_at, expires_at, revoked_at';
export function tokenValues(t: TokenRow): SqlValue[] {
  return [t.id, t.hash, t.principalId, t.label, t.createdAt, t.expiresAt, t.revokedAt];
}

function str(v: unknown): string {
  return v as string;
}
function num(v: unknown): number {
  return Number(v);
}
function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}
function bytesOrNull(v: unknown): Uint8Array | null {
  return v === null || v === undefined ? null : (v as Uint8Array);
}

export function toSubject(r: SqlRow): SubjectRow {
  return {
    id: str(r['id']),
    country: str(r['country']),
    jurisdiction: str(r['jurisdiction']),
    wrappedKey: bytesOrNull(r['wrapped_key']),
    keyId: str(r['key_id']),
    createdAt: num(r['created_at']),
    erasedAt: numOrNull(r['erased_at']),
    movedTo: (r['moved_to'] as string | null) ?? null,
  };
}

export function toRecord(r: SqlRow): RecordRow {
  return {
    collection: str(r['collection']),
    id: str(r['id']),
    subject: str(r['subject']),
    version: num(r['version']),
    publicJson: str(r['public_json']),
    sealed: bytesOrNull(r['sealed']),
    createdAt: num(r['created_at']),
    updatedAt: num(r['updated_at']),
  };
}

/** Columns of `tokens t JOIN principals p` as both adapters select them. */
export const TOKEN_SELECT = `SELECT t.*, p.org AS p_org, p.role AS p_role, p.created_at AS p_created_at
                    FROM tokens t JOIN principals p ON p.id = t.principal_id`;

export function toTokenWithPrincipal(r: SqlRow): TokenWithPrincipal {
  return {
    token: {
      id: str(r['id']),
      hash: str(r['hash']),
      principalId: str(r['principal_id']),
      label: str(r['label']),
      createdAt: num(r['created_at']),
      expiresAt: numOrNull(r['expires_at']),
      revokedAt: numOrNull(r['revoked_at']),
    },
    principal: { id: str(r['principal_id']), org: str(r['p_org']), role: str(r['p_role']), createdAt: num(r['p_created_at']) },
  };
}

/** The page size `listBySubject` uses: 1000 by default, at least 1, at most 10,000. */
export function listLimit(limit: number | undefined): number {
  return Math.max(1, Math.min(limit ?? 1000, 10_000));
}

/** The value a row count query returned, as a number. */
export function countOf(r: SqlRow | undefined): number {
  return num(r?.['n']);
}
