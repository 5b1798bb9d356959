// RFC 8785 JSON Canonicalization Scheme (JCS): one byte string per JSON value, so a log entry hashes the
// same wherever it is recomputed. JCS is defined in terms of ECMAScript's own serialization (§3.2.2.2
// strings, §3.2.2.3 numbers: Number.prototype.toString), which JSON.stringify implements for primitives;
// this file adds the member sorting (§3.2.3, by UTF-16 code units) and the I-JSON checks (RFC 7493):
// finite numbers only, no lone surrogates, plain objects and arrays only.
import { EnclaveError } from './errors.ts';

/** A value JCS can serialize. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

const MAX_DEPTH = 64;

function refuse(message: string): never {
  throw new EnclaveError('invalid_request', `not canonicalizable JSON: ${message}`);
}

/**
 * Where the writer is, as a stack of member names and array indexes: pushed and popped on the way down
 * and up, and spelled out (`(root).details.policies[0]`) only for an error message.
 */
type Path = (string | number)[];

function at(path: Path): string {
  let out = '(root)';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${p}`;
  return out;
}

function str(s: string, path: Path): string {
  // RFC 7493 §2.1: strings must be valid Unicode; JSON.stringify would escape a lone surrogate instead.
  if (!s.isWellFormed()) refuse(`${at(path)} contains a lone UTF-16 surrogate`);
  return JSON.stringify(s);
}

// Code-unit order (RFC 8785 §3.2.3): the default comparison of JavaScript strings, independent of locale.
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sorts an object's keys in place in code-unit order: insertion sort for the few members most objects have (no scratch array). */
export function sortKeys(keys: string[]): string[] {
  if (keys.length > 16) return keys.sort(byCodeUnits);
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i] as string;
    let j = i - 1;
    for (; j >= 0 && (keys[j] as string) > k; j--) keys[j + 1] = keys[j] as string;
    keys[j + 1] = k;
  }
  return keys;
}

function write(value: unknown, path: Path, out: string[]): void {
  if (path.length > MAX_DEPTH) refuse(`${at(path)} is nested deeper than ${MAX_DEPTH} levels`);
  switch (typeof value) {
    case 'string':
      out.push(str(value, path));
      return;
    case 'number':
      if (!Number.isFinite(value)) refuse(`${at(path)} is not a finite number`);
      // Number.prototype.toString is the serialization §3.2.2.3 prescribes; -0 becomes 0.
      out.push(JSON.stringify(value));
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'object': {
      if (value === null) {
        out.push('null');
        return;
      }
      if (Array.isArray(value)) {
        out.push('[');
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out.push(',');
          path.push(i);
          write(value[i], path, out);
          path.pop();
        }
        out.push(']');
        return;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) refuse(`${at(path)} is not a plain object`);
      const obj = value as Record<string, unknown>;
      const keys = sortKeys(Object.keys(obj));
      out.push('{');
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i] as string;
        if (i > 0) out.push(',');
        if (!k.isWellFormed()) refuse(`a key of ${at(path)} contains a lone UTF-16 surrogate`);
        out.push(JSON.stringify(k), ':');
        path.push(k);
        write(obj[k], path, out);
        path.pop();
      }
      out.push('}');
      return;
    }
    case 'bigint':
    case 'function':
    case 'symbol':
    case 'undefined':
      refuse(`${at(path)} is ${typeof value}, which JSON cannot represent`);
  }
}

/**
 * Whether an object built member by member keeps `name` where it was inserted: JavaScript lists
 * integer-like names first (any name starting with a digit is treated so, to be safe), and `__proto__`
 * cannot be assigned as a member. Building objects in code-unit order for one JSON.stringify relies on it.
 */
export function keepsInsertionOrder(name: string): boolean {
  const c = name.charCodeAt(0);
  return !(c >= 48 && c <= 57) && name !== '__proto__';
}

/** What sorted() answers when the value needs the writer: something to refuse, or a member name JavaScript would reorder. */
const GENERAL = Symbol('general');

/**
 * A copy of `value` whose objects have their members inserted in code-unit order, for one JSON.stringify
 * (which keeps insertion order and writes every value as RFC 8785 does): several times faster than the
 * writer on the log's entries. GENERAL for anything the writer must refuse, and for integer-like member
 * names and __proto__, which an object cannot hold in that order.
 */
function sorted(value: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH) return GENERAL;
  switch (typeof value) {
    case 'string':
      return value.isWellFormed() ? value : GENERAL;
    case 'number':
      return Number.isFinite(value) ? value : GENERAL;
    case 'boolean':
      return value;
    case 'object': {
      if (value === null) return null;
      if (Array.isArray(value)) {
        const out: unknown[] = new Array<unknown>(value.length);
        for (let i = 0; i < value.length; i++) {
          const v = sorted(value[i], depth + 1);
          if (v === GENERAL) return GENERAL;
          out[i] = v;
        }
        return out;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) return GENERAL;
      const obj = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const k of sortKeys(Object.keys(obj))) {
        if (!keepsInsertionOrder(k) || !k.isWellFormed()) return GENERAL;
        const v = sorted(obj[k], depth + 1);
        if (v === GENERAL) return GENERAL;
        out[k] = v;
      }
      return out;
    }
    case 'bigint':
    case 'function':
    case 'symbol':
    case 'undefined':
      return GENERAL;
  }
}

/**
 * At least how many bytes `value` takes as canonical JSON (RFC 8785), counted until past `limit`: a
 * string its UTF-16 length and quotes (UTF-8 takes at least a byte per code unit), a number a digit,
 * each member its quoted name and colon, each element its separator. Counting stops as soon as the
 * bound is passed, so a huge value costs no more than a small one. Returns the reason instead for what
 * the encoder refuses whatever its size and whose contents would be copied unmeasured (an object that
 * is not plain, nesting beyond MAX_DEPTH), so that a caller need not copy or encode a value to bound it.
 */
export function canonicalSizeAtLeast(value: unknown, limit: number, depth = 0): number | string {
  if (depth > MAX_DEPTH) return `it is nested deeper than ${MAX_DEPTH} levels`;
  switch (typeof value) {
    case 'string':
      return value.length + 2;
    case 'boolean':
      return 4;
    case 'object': {
      if (value === null) return 4;
      let size = 2;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length && size <= limit; i++) {
          const v = canonicalSizeAtLeast(value[i], limit - size, depth + 1);
          if (typeof v === 'string') return v;
          size += v + (i > 0 ? 1 : 0); // the comma before it
        }
        return size;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) return 'it holds an object that is not plain JSON';
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj);
      for (let i = 0; i < keys.length && size <= limit; i++) {
        const k = keys[i] as string;
        const v = canonicalSizeAtLeast(obj[k], limit - size, depth + 1);
        if (typeof v === 'string') return v;
        size += (i > 0 ? 1 : 0) + k.length + 3 + v; // ,"name":value
      }
      return size;
    }
    case 'number':
      return 1;
    case 'bigint':
    case 'function':
    case 'symbol':
    case 'undefined':
      // JSON cannot hold these: the encoder refuses them (and they are small to copy).
      return 1;
  }
}

/** The canonical JSON text of `value` (RFC 8785); throws `invalid_request` for what JCS cannot represent. */
export function canonicalJson(value: unknown): string {
  const copy = sorted(value, 0);
  if (copy !== GENERAL) return JSON.stringify(copy);
  const out: string[] = [];
  write(value, [], out);
  return out.join('');
}

/** The canonical form as UTF-8 bytes: what gets hashed. */
const utf8 = new TextEncoder();

export function canonicalJsonBytes(value: unknown): Uint8Array {
  return utf8.encode(canonicalJson(value));
}
