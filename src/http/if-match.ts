import { EnclaveError } from '../core/errors.ts';
import { sameRevision, type RecordRevision } from '../core/store.ts';

/**
 * An If-Match field (RFC 9110 §13.1.1): `'*'` (the record exists), or the record revisions of its strong
 * entity-tags. Weak tags (`W/"3.mww7j89t"`), bare versions and tags this server never issues are left out,
 * since the strong comparison never matches them; an empty list therefore matches nothing.
 * `bareVersion` says whether a member was a bare version (`3` or `"3"`), the form this API took before;
 * `weak` whether one was weak (for the 412's hint).
 */
export type IfMatch = '*' | { readonly revisions: readonly RecordRevision[]; readonly bareVersion: boolean; readonly weak: boolean };

/** No record is ever at version 0: asking the vault for it fails the precondition after its usual checks. */
const NO_REVISION: RecordRevision = { version: 0, createdAt: 0 };

// One list member (RFC 9110 §8.8.3 entity-tag, §5.6.1 list with OWS and empty members), or a bare
// version, which this API took before its tags named the incarnation.
const MEMBER = /[\t ]*(?:(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"|([1-9][0-9]{0,14}))?[\t ]*(?:,|$)/y;
const VERSION = /^[1-9][0-9]{0,14}$/;
const TAG = /^([1-9][0-9]{0,14})\.([0-9a-z]{1,11})$/;

function malformed(): EnclaveError {
  return new EnclaveError('invalid_request', 'If-Match must be "*" or a list of entity-tags as returned in ETag, e.g. "3.mww7j89t"', { details: { field: 'If-Match' } });
}

/**
 * A record's strong entity-tag: its version and, in base 36, the creation time (ms) of its incarnation. A
 * record deleted and created again starts again at version 1, so the version alone would give the new
 * record the old one's tag (RFC 9110 §8.8.1, §8.8.3). Two incarnations of one key created in the same
 * millisecond would still share a tag: telling them apart needs a column (a per-incarnation nonce).
 */
export function etagOf(revision: RecordRevision): string {
  return `"${revision.version}.${revision.createdAt.toString(36)}"`;
}

/** The revision an opaque tag names, if it is one etagOf gives (exactly: no other spelling of it matches). */
function revisionOfTag(opaque: string): RecordRevision | undefined {
  const m = TAG.exec(opaque);
  if (!m) return undefined;
  const createdAt = Number.parseInt(m[2] ?? '', 36);
  if (!Number.isSafeInteger(createdAt) || createdAt.toString(36) !== m[2]) return undefined;
  return { version: Number(m[1]), createdAt };
}

/** Parses If-Match; absent means unconditional. */
export function parseIfMatch(header: string | string[] | undefined): IfMatch | undefined {
  if (header === undefined) return undefined;
  const value = (Array.isArray(header) ? header.join(', ') : header).trim();
  if (value === '*') return '*';
  const revisions: RecordRevision[] = [];
  let bareVersion = false;
  let weakTag = false;
  let members = 0;
  for (let at = 0; at < value.length; ) {
    MEMBER.lastIndex = at;
    const m = MEMBER.exec(value);
    if (!m || MEMBER.lastIndex === at) throw malformed();
    at = MEMBER.lastIndex;
    const [, weak, opaque, bare] = m;
    if (opaque === undefined && bare === undefined) continue;
    members += 1;
    if (weak !== undefined) {
      weakTag = true;
      continue;
    }
    const revision = opaque === undefined ? undefined : revisionOfTag(opaque);
    if (revision) revisions.push(revision);
    else if (VERSION.test(bare ?? opaque ?? '')) bareVersion = true;
  }
  if (members === 0) throw malformed();
  return { revisions, bareVersion, weak: weakTag };
}


/**
 * Runs a replace or delete at the one revision If-Match allows. `*`: at any (a missing record is then
 * 404, as without the field: RFC 9110 §13.2.1). A list: at the current revision if it is a member
 * (`current` reads it; the vault compares again and the store's write is conditional on the version and
 * the incarnation, so a change or a delete and create in between fails the precondition rather than
 * passing it).
 */
export async function ifMatching<T>(
  condition: IfMatch | undefined,
  current: () => Promise<RecordRevision | undefined>,
  change: (revision: RecordRevision | undefined) => Promise<T>,
): Promise<T> {
  if (condition === undefined || condition === '*') return change(undefined);
  const { revisions, bareVersion, weak } = condition;
  if (revisions.length === 0) {
    try {
      return await change(NO_REVISION);
    } catch (err) {
      if (!(err instanceof EnclaveError) || err.code !== 'version_conflict') throw err;
      throw new EnclaveError(
        'version_conflict',
        bareVersion
          ? 'no entity-tag in If-Match matches the record: a bare version (3 or "3") is not an entity-tag of this server, which names the record\'s incarnation too; send the ETag as returned, e.g. "3.mww7j89t" (RFC 9110 §8.8.3)'
          : weak
            ? 'no entity-tag in If-Match matches the record: the comparison is strong, so a weak one (W/"…") never matches (RFC 9110 §13.1.1)'
            : 'no entity-tag in If-Match matches the record: none is one this server issued; send the ETag exactly as returned, e.g. "3.mww7j89t" (tags compare character by character)',
      );
    }
  }
  const now = revisions.length === 1 ? undefined : await current();
  const member = now === undefined ? undefined : revisions.find((r) => sameRevision(r, now));
  return change(member ?? revisions[0] ?? NO_REVISION);
}
