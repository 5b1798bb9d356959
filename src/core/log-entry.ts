// The transparency log's entry format (docs/transparency-log.md): one RFC 8785 canonical JSON object per
// entry, which is the Merkle leaf (RFC 9162 §2.1.1 hashes the entry bytes as they are stored). Entries
// carry no protected value and no raw subject identifier: a subject appears only as its keyed hash
// HMAC-SHA256(log subject key, subject id), which whoever holds the key can recompute to link entries
// to a subject (issue 4, point 1).
import { createHmac, type KeyObject } from 'node:crypto';
import { canonicalJson, canonicalJsonBytes } from './canonical-json.ts';
import { EnclaveError } from './errors.ts';
import { MAX_ENTRY_SIZE } from './tlog/tiles.ts';
import { parseRfc3339 } from './rfc3339.ts';
import { LOG_EVENT_TYPES, type LogActor, type LogEventType, type LogValue } from './event-log.ts';
import type { LogEntryRow } from './log-store.ts';

export const LOG_ENTRY_VERSION = 1;
/** An entry bundle prefixes each entry with a big-endian uint16 length (C2SP tlog-tiles). */
export const MAX_LOG_ENTRY_BYTES = MAX_ENTRY_SIZE;
export const SUBJECT_HASH_PATTERN = '^[0-9a-f]{64}$';

export interface LogEntry {
  readonly v: typeof LOG_ENTRY_VERSION;
  readonly type: LogEventType;
  /** RFC 3339 UTC with milliseconds. */
  readonly time: string;
  readonly principal: LogActor | null;
  /** Hex HMAC-SHA256 of the subject id under the log subject key; null when the event has no subject. */
  readonly subject: string | null;
  /**
   * Present (true) when the event concerned a subject but the enclave was sealed, so the subject key was
   * not in memory and the entry cannot be linked to the subject.
   */
  readonly sealed?: true;
  readonly details: { readonly [key: string]: LogValue };
}

/**
 * An entry before its subject is hashed and its bytes are made: `subjectId` is the raw subject id, which
 * never leaves the process. The embedded store finishes drafts on its writer thread (finishLogEntry), so
 * the HMAC and the canonical form cost the request's thread nothing.
 */
export interface LogEntryDraft extends Omit<LogEntry, 'subject'> {
  readonly subjectId: string | null;
}

/** What the store indexes an entry by (docs/transparency-log.md, "Search"). */
export interface LogEntryColumns {
  /** Milliseconds since the epoch. */
  readonly time: number;
  readonly type: LogEventType;
  readonly principal: string | null;
  readonly subject: string | null;
}

const TYPES: ReadonlySet<string> = new Set(LOG_EVENT_TYPES);
const HASH_RE = new RegExp(SUBJECT_HASH_PATTERN);
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The keyed hash that stands for a subject in the log: hex HMAC-SHA256(key, UTF-8 subject id). Pass a
 * KeyObject (node:crypto createSecretKey) where it is computed often: a raw key is imported on every call.
 */
export function subjectHash(key: Uint8Array | KeyObject, subjectId: string): string {
  return createHmac('sha256', key).update(subjectId, 'utf8').digest('hex');
}

export function isSubjectHash(value: string): boolean {
  return HASH_RE.test(value);
}

export function isLogEventType(value: string): value is LogEventType {
  return TYPES.has(value);
}

/** The entry's bytes (canonical JSON, the Merkle leaf) and its search columns; refuses oversized entries. */
export function encodeLogEntry(entry: LogEntry): { bytes: Uint8Array; columns: LogEntryColumns } {
  if (!isLogEventType(entry.type)) throw new EnclaveError('invalid_request', `unknown log event type "${String(entry.type)}"`);
  const bytes = canonicalJsonBytes(entry);
  if (bytes.byteLength > MAX_LOG_ENTRY_BYTES) {
    throw new EnclaveError('invalid_request', `a ${entry.type} log entry would be ${bytes.byteLength} bytes; entries are at most ${MAX_LOG_ENTRY_BYTES}`);
  }
  return {
    bytes,
    columns: { time: Date.parse(entry.time), type: entry.type, principal: entry.principal?.id ?? null, subject: entry.subject },
  };
}

/**
 * The stored row of a draft: the subject hashed under the log subject key, the entry encoded. Refuses
 * with `log_unavailable` an entry that cannot be encoded (oversized, not canonicalizable) or that names
 * a subject while no key is given (sealed).
 */
export function finishLogEntry(draft: LogEntryDraft, subjectKey: Uint8Array | KeyObject | null): LogEntryRow {
  const { subjectId, ...rest } = draft;
  if (subjectId !== null && subjectKey === null) {
    throw new EnclaveError('sealed', `the enclave is sealed: a ${draft.type} event must name its subject by the log subject key, which needs the root key`);
  }
  const entry: LogEntry = { ...rest, subject: subjectId === null || subjectKey === null ? null : subjectHash(subjectKey, subjectId) };
  try {
    const { bytes, columns } = encodeLogEntry(entry);
    return { ...columns, body: bytes };
  } catch (cause) {
    throw new EnclaveError('log_unavailable', `the ${draft.type} entry could not be encoded`, { cause });
  }
}

/** finishLogEntry over a batch: rows stay as they are, each draft becomes its row or the error that refused it alone. */
export function finishLogEntries(items: readonly (LogEntryRow | LogEntryDraft)[], subjectKey: Uint8Array | KeyObject | null): (LogEntryRow | EnclaveError)[] {
  return items.map((item) => {
    if ('body' in item) return item;
    try {
      return finishLogEntry(item, subjectKey);
    } catch (err) {
      return err instanceof EnclaveError ? err : new EnclaveError('log_unavailable', `the ${item.type} entry could not be encoded`, { cause: err });
    }
  });
}

function bad(message: string): never {
  throw new EnclaveError('invalid_request', `not a log entry: ${message}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses and checks an entry read back from the log: valid UTF-8, canonical JSON (so the bytes are the
 * only spelling of the entry), and the v1 shape. Throws `invalid_request` naming what is wrong.
 */
export function decodeLogEntry(bytes: Uint8Array): LogEntry {
  let text: string;
  let doc: unknown;
  try {
    text = decoder.decode(bytes);
    doc = JSON.parse(text) as unknown;
  } catch {
    bad('not UTF-8 JSON');
  }
  if (!isObject(doc)) bad('not a JSON object');
  if (canonicalJson(doc) !== text) bad('not in canonical form (RFC 8785)');
  const allowed = new Set(['v', 'type', 'time', 'principal', 'subject', 'sealed', 'details']);
  for (const k of Object.keys(doc)) if (!allowed.has(k)) bad(`unknown member "${k}"`);
  if (doc['v'] !== LOG_ENTRY_VERSION) bad(`version must be ${LOG_ENTRY_VERSION}`);
  const { type, time, principal, subject, sealed, details } = doc;
  if (typeof type !== 'string' || !isLogEventType(type)) bad('unknown type');
  if (typeof time !== 'string' || !ISO_RE.test(time) || parseRfc3339(time) === undefined) bad('time must be RFC 3339 UTC with milliseconds');
  if (principal !== null) {
    if (!isObject(principal)) bad('principal must be an object or null');
    const keys = Object.keys(principal).sort().join(',');
    if (keys !== 'id,org,role' || !Object.values(principal).every((x) => typeof x === 'string')) bad('principal must be {id, org, role}');
  }
  if (subject !== null && (typeof subject !== 'string' || !isSubjectHash(subject))) bad('subject must be 64 hex digits or null');
  if (sealed !== undefined && (sealed !== true || subject !== null)) bad('sealed may only be true, on an entry without a subject hash');
  if (!isObject(details)) bad('details must be an object');
  return doc as unknown as LogEntry;
}
