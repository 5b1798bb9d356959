// The digest an approval binds to (issue 3 point 2: an approval can't be replayed onto another request).
// It covers the request's or proposal's id and its whole content in canonical JSON (RFC 8785: keys in
// UTF-16 order, no whitespace; the values here are strings, integers, booleans, null and arrays).
import { createHash } from 'node:crypto';

export type Canonical = string | number | boolean | null | readonly Canonical[] | { readonly [key: string]: Canonical };

export function canonicalJson(value: Canonical): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('canonical JSON has no non-finite numbers');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${(value as readonly Canonical[]).map(canonicalJson).join(',')}]`;
  const obj = value as { readonly [key: string]: Canonical };
  // RFC 8785 §3.2.3: members sorted by the UTF-16 code units of their names (the default sort order).
  const keys = Object.keys(obj).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k] ?? null)}`).join(',')}}`;
}

/** `sha256:<hex>` of the canonical JSON. */
export function contentDigest(value: Canonical): string {
  return `sha256:${createHash('sha256').update(canonicalJson(value)).digest('hex')}`;
}
