import { EnclaveError } from '../core/errors.ts';

/** Parses `If-Match: "3"` (or W/"3", or 3) into a record version; absent means unconditional. */
export function parseIfMatch(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const value = Array.isArray(header) ? header[0] : header;
  const m = /^\s*(?:W\/)?"?([1-9][0-9]{0,14})"?\s*$/.exec(value ?? '');
  if (!m?.[1]) throw new EnclaveError('invalid_request', 'If-Match must be a record version as returned in ETag, e.g. "3"', { details: { field: 'If-Match' } });
  return Number(m[1]);
}

export function etagOf(version: number): string {
  return `"${version}"`;
}
