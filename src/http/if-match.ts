import { EnclaveError } from '../core/errors.ts';

/**
 * An If-Match field (RFC 9110 §13.1.1): `'*'` (the record exists), or the record versions of its strong
 * entity-tags. Weak tags (`W/"3"`) and tags this server never issues are left out, since the strong
 * comparison never matches them; an empty list therefore matches nothing.
 */
export type IfMatch = '*' | readonly number[];

/** No record is ever at version 0: asking the vault for it fails the precondition after its usual checks. */
const NO_VERSION = 0;

// One list member (RFC 9110 §8.8.3 entity-tag, §5.6.1 list with OWS and empty members), or a bare
// version, which this API has always taken.
const MEMBER = /[\t ]*(?:(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"|([1-9][0-9]{0,14}))?[\t ]*(?:,|$)/y;
const VERSION = /^[1-9][0-9]{0,14}$/;

function malformed(): EnclaveError {
  return new EnclaveError('invalid_request', 'If-Match must be "*" or a list of entity-tags as returned in ETag, e.g. "3"', { details: { field: 'If-Match' } });
}

/** Parses If-Match; absent means unconditional. */
export function parseIfMatch(header: string | string[] | undefined): IfMatch | undefined {
  if (header === undefined) return undefined;
  const value = (Array.isArray(header) ? header.join(', ') : header).trim();
  if (value === '*') return '*';
  const versions: number[] = [];
  let members = 0;
  for (let at = 0; at < value.length; ) {
    MEMBER.lastIndex = at;
    const m = MEMBER.exec(value);
    if (!m || MEMBER.lastIndex === at) throw malformed();
    at = MEMBER.lastIndex;
    const [, weak, opaque, bare] = m;
    if (opaque === undefined && bare === undefined) continue;
    members += 1;
    const tag = bare ?? opaque ?? '';
    if (weak === undefined && VERSION.test(tag)) versions.push(Number(tag));
  }
  if (members === 0) throw malformed();
  return versions;
}

/**
 * Runs a replace or delete at the one version If-Match allows. `*`: at any version (a missing record is
 * then 404, as without the field: RFC 9110 §13.2.1). A list: at the current version if it is a member
 * (`current` reads it; the vault compares again and the store's write is conditional, so a change in
 * between fails the precondition rather than passing it).
 */
export async function ifMatching<T>(condition: IfMatch | undefined, current: () => Promise<number | undefined>, change: (version: number | undefined) => Promise<T>): Promise<T> {
  if (condition === undefined || condition === '*') return change(undefined);
  if (condition.length === 0) {
    try {
      return await change(NO_VERSION);
    } catch (err) {
      if (!(err instanceof EnclaveError) || err.code !== 'version_conflict') throw err;
      throw new EnclaveError('version_conflict', 'no entity-tag in If-Match matches the record: the comparison is strong, so a weak one (W/"…") never matches (RFC 9110 §13.1.1)');
    }
  }
  const now = condition.length === 1 ? undefined : await current();
  return change(now !== undefined && condition.includes(now) ? now : condition[0]);
}

export function etagOf(version: number): string {
  return `"${version}"`;
}
