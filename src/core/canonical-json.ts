// RFC 8785 JSON Canonicalization Scheme (JCS): one byte string per JSON value, so a log entry hashes the
// same wherever it is recomputed. JCS is defined in terms of ECMAScript's own serialization (§3.2.2.2
// strings, §3.2.2.3 numbers: Number.prototype.toString), which JSON.stringify implements for primitives;
// this file adds the member sorting (§3.2.3, by UTF-16 code units) and the I-JSON checks (RFC 7493):
// finite numbers only, no lone surrogates, plain objects and arrays only.
import { EnclaveError } from './errors.ts';

/** A value JCS can serialize. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const MAX_DEPTH = 64;

function refuse(message: string): never {
  throw new EnclaveError('invalid_request', `not canonicalizable JSON: ${message}`);
}

function str(s: string, where: string): string {
  // RFC 7493 §2.1: strings must be valid Unicode; JSON.stringify would escape a lone surrogate instead.
  if (LONE_SURROGATE.test(s)) refuse(`${where} contains a lone UTF-16 surrogate`);
  return JSON.stringify(s);
}

// Code-unit order (RFC 8785 §3.2.3): the default comparison of JavaScript strings, independent of locale.
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function write(value: unknown, where: string, depth: number, out: string[]): void {
  if (depth > MAX_DEPTH) refuse(`${where} is nested deeper than ${MAX_DEPTH} levels`);
  switch (typeof value) {
    case 'string':
      out.push(str(value, where));
      return;
    case 'number':
      if (!Number.isFinite(value)) refuse(`${where} is not a finite number`);
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
        value.forEach((v: unknown, i) => {
          if (i > 0) out.push(',');
          write(v, `${where}[${i}]`, depth + 1, out);
        });
        out.push(']');
        return;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) refuse(`${where} is not a plain object`);
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).sort(byCodeUnits);
      out.push('{');
      keys.forEach((k, i) => {
        if (i > 0) out.push(',');
        out.push(str(k, `a key of ${where}`), ':');
        write(obj[k], `${where}.${k}`, depth + 1, out);
      });
      out.push('}');
      return;
    }
    case 'bigint':
    case 'function':
    case 'symbol':
    case 'undefined':
      refuse(`${where} is ${typeof value}, which JSON cannot represent`);
  }
}

/** The canonical JSON text of `value` (RFC 8785); throws `invalid_request` for what JCS cannot represent. */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  write(value, '(root)', 0, out);
  return out.join('');
}

/** The canonical form as UTF-8 bytes: what gets hashed. */
const utf8 = new TextEncoder();

export function canonicalJsonBytes(value: unknown): Uint8Array {
  return utf8.encode(canonicalJson(value));
}
