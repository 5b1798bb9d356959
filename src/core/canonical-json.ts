// Canonical JSON (RFC 8785, JCS): object members sorted by the UTF-16 code units of their names, no
// whitespace, strings and numbers serialized as ECMAScript's JSON.stringify does (RFC 8785 section 3.2.2
// adopts exactly that serialization). Equal values therefore always give equal bytes, so they hash alike.

export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    // I-JSON (RFC 7493) has no NaN or Infinity; JSON.stringify would silently turn them into null.
    if (!Number.isFinite(value)) throw new RangeError('canonical JSON has no NaN or Infinity');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${(value as readonly JsonValue[]).map(canonicalJson).join(',')}]`;
  const obj = value as { readonly [key: string]: JsonValue };
  // Array.prototype.sort without a comparator orders by UTF-16 code units, as RFC 8785 section 3.2.3 requires.
  const keys = Object.keys(obj).sort();
  const parts: string[] = [];
  for (const k of keys) {
    const v = obj[k];
    if (v === undefined) continue;
    parts.push(`${JSON.stringify(k)}:${canonicalJson(v)}`);
  }
  return `{${parts.join(',')}}`;
}
