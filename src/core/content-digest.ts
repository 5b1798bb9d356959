// The digest an approval binds to (issue 3 point 2: an approval can't be replayed onto another request).
// It covers the request's or proposal's id and its whole content in canonical JSON (RFC 8785).
import { createHash } from 'node:crypto';
import { canonicalJson, type JsonValue } from './canonical-json.ts';

export type Canonical = JsonValue;

/** `sha256:<hex>` of the canonical JSON. */
export function contentDigest(value: Canonical): string {
  return `sha256:${createHash('sha256').update(canonicalJson(value)).digest('hex')}`;
}
