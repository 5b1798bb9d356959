// What an access request asks for and a grant covers (issue 3 points 2–3): subjects and/or collections,
// optionally narrowed to protected fields (`collection.field`), for one purpose. Coverage is computed
// here, outside Cedar: the decision point hands Cedar only the answer (which grant, if any, covers).
import type { CollectionDef, EnclaveConfig } from './config.ts';
import { EnclaveError } from './errors.ts';
import { RECORD_ID_PATTERN } from './api-ids.ts';

export interface AccessScope {
  /** Subject ids; empty means every subject of the named collections. */
  readonly subjects: readonly string[];
  /** Collection names; empty means every collection holding the named fields, or every collection. */
  readonly collections: readonly string[];
  /** Protected fields as `collection.field`; empty means every protected field of the scope. */
  readonly fields: readonly string[];
}

export const MAX_SCOPE_SUBJECTS = 1000;
const SUBJECT_RE = new RegExp(RECORD_ID_PATTERN);

function scopeError(message: string, field: string): EnclaveError {
  return new EnclaveError('invalid_scope', message, { details: { field } });
}

const sortedUnique = (items: readonly string[]) => [...new Set(items)].sort();

/** Validates a scope from outside and returns it sorted and de-duplicated (so equal scopes digest equally). */
export function normalizeScope(config: EnclaveConfig, input: { subjects?: readonly string[]; collections?: readonly string[]; fields?: readonly string[] }): AccessScope {
  const subjects = sortedUnique(input.subjects ?? []);
  const collections = sortedUnique(input.collections ?? []);
  const fields = sortedUnique(input.fields ?? []);
  if (subjects.length > MAX_SCOPE_SUBJECTS) throw scopeError(`a scope names at most ${MAX_SCOPE_SUBJECTS} subjects`, 'subjects');
  for (const s of subjects) if (!SUBJECT_RE.test(s)) throw scopeError(`subject ids must match ${RECORD_ID_PATTERN}`, 'subjects');
  for (const c of collections) {
    if (!config.collections.has(c)) throw scopeError(`unknown collection "${c}" (expected one of: ${[...config.collections.keys()].join(', ')})`, 'collections');
  }
  for (const f of fields) {
    const dot = f.indexOf('.');
    if (dot <= 0) throw scopeError(`"${f}" is not a field written as collection.field (for example users.email)`, 'fields');
    const c = config.collections.get(f.slice(0, dot));
    if (!c) throw scopeError(`"${f}" names an unknown collection (expected one of: ${[...config.collections.keys()].join(', ')})`, 'fields');
    const def = c.fields.get(f.slice(dot + 1));
    if (!def) throw scopeError(`"${f}": collection "${c.name}" has no field "${f.slice(dot + 1)}" (its protected fields: ${c.protectedFields.join(', ') || 'none'})`, 'fields');
    if (def.class !== 'protected') throw scopeError(`"${f}" is a public field: every principal may read it already`, 'fields');
    if (collections.length > 0 && !collections.includes(c.name)) throw scopeError(`"${f}" is outside the collections named (${collections.join(', ')})`, 'fields');
  }
  if (subjects.length === 0 && collections.length === 0 && fields.length === 0) {
    throw scopeError('name subjects and/or collections (or fields): a grant on everything is never given', 'subjects');
  }
  const scope = { subjects, collections, fields };
  if (scopeFields(config, scope).length === 0) throw scopeError('the scope holds no protected field: public fields need no grant', 'collections');
  return scope;
}

/**
 * Break-glass is for an emergency, which concerns a few people: its scope names them, at most `max`
 * (gatekeeper.break_glass.max_subjects). Wider access needs approval first.
 */
export function checkBreakGlassScope(scope: AccessScope, max: number): void {
  const limit = `at most ${max} (gatekeeper.break_glass.max_subjects)`;
  const wider = 'file an access request (enclave access request) for wider access';
  if (scope.subjects.length === 0) throw scopeError(`break-glass must name its subjects, ${limit}, and never opens whole collections: ${wider}`, 'subjects');
  if (scope.subjects.length > max) throw scopeError(`break-glass names ${limit} subjects, this scope names ${scope.subjects.length}: ${wider}`, 'subjects');
}

/** Every protected field (`collection.field`) the scope reaches. */
export function scopeFields(config: EnclaveConfig, scope: AccessScope): string[] {
  const out: string[] = [];
  for (const c of config.collections.values()) {
    const released = releasedFields(scope, c);
    if (released) for (const f of released) out.push(`${c.name}.${f}`);
  }
  return out;
}

/** The protected fields of `c` a scope releases, whatever the subject; undefined if none. */
function releasedFields(scope: AccessScope, c: CollectionDef): readonly string[] | undefined {
  const named = scope.fields.filter((f) => f.startsWith(`${c.name}.`)).map((f) => f.slice(c.name.length + 1));
  if (scope.collections.length > 0 && !scope.collections.includes(c.name)) return undefined;
  if (scope.fields.length > 0) return named.length > 0 ? named : undefined;
  return c.protectedFields.length > 0 ? c.protectedFields : undefined;
}

/** The protected fields of `c` that the scope opens for this subject; undefined if it opens none. */
export function coveredFields(scope: AccessScope, c: CollectionDef, subject: string): readonly string[] | undefined {
  if (scope.subjects.length > 0 && !scope.subjects.includes(subject)) return undefined;
  return releasedFields(scope, c);
}

/**
 * A justification is a configured code and free text that says something: at least the configured
 * number of characters once spaces are collapsed, made of words (letters), not a row of dots or one
 * repeated character.
 */
export function checkJustification(config: EnclaveConfig, code: string, text: string): string {
  const g = config.gatekeeper;
  if (!g.justificationCodes.includes(code)) {
    throw new EnclaveError('invalid_justification', `justification code "${code}" is not configured (expected one of: ${g.justificationCodes.join(', ')})`, { details: { field: 'justification.code' } });
  }
  const clean = text.replace(/\s+/g, ' ').trim();
  const letters = clean.match(/\p{L}/gu) ?? [];
  if (clean.length < g.minJustificationLength || letters.length < Math.ceil(g.minJustificationLength / 2) || new Set(letters.map((l) => l.toLowerCase())).size < 4) {
    throw new EnclaveError('invalid_justification', `explain the need in words: at least ${g.minJustificationLength} characters, mostly letters`, { details: { field: 'justification.text' } });
  }
  return clean;
}
