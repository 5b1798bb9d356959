// Compiles JSON Schemas (written with TypeBox) with Ajv and turns Ajv's errors into messages that name
// the offending key and say what is expected. Messages never echo the offending value: it may be protected.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { TSchema, Static } from 'typebox';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

// ownProperties: a field named like an Object.prototype member (`constructor`) is only present if the
// data itself has it; otherwise every object would seem to carry an inherited, wrongly typed value.
const ajv = addFormats(new Ajv({ allErrors: true, strict: false, coerceTypes: false, useDefaults: false, ownProperties: true }));

export interface SchemaIssue {
  readonly path: string;
  readonly message: string;
}

export interface Validator<T> {
  (value: unknown): value is T;
  issues(value: unknown): SchemaIssue[];
}

/** `/sites/0/role` → `sites[0].role`; the root is `(root)`. */
export function formatPath(instancePath: string, rootName = '(root)'): string {
  if (instancePath === '') return rootName;
  let out = '';
  for (const raw of instancePath.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(seg)) out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}

function join(path: string, key: string): string {
  return path === '(root)' ? key : `${path}.${key}`;
}

function describe(e: ErrorObject): SchemaIssue {
  const path = formatPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return { path: join(path, String(p['additionalProperty'])), message: 'is not a known key' };
    case 'required':
      return { path: join(path, String(p['missingProperty'])), message: 'is required' };
    case 'type':
      return { path, message: `must be ${article(String(p['type']))}` };
    case 'enum':
      return { path, message: `must be one of: ${(p['allowedValues'] as unknown[]).map(String).join(', ')}` };
    case 'const':
      return { path, message: `must be ${JSON.stringify(p['allowedValue'])}` };
    case 'pattern':
      return { path, message: `must match ${String(p['pattern'])}` };
    case 'format':
      return { path, message: `must be a valid ${String(p['format'])}` };
    case 'minLength':
      return { path, message: `must have at least ${String(p['limit'])} character(s)` };
    case 'maxLength':
      return { path, message: `must have at most ${String(p['limit'])} character(s)` };
    case 'minItems':
      return { path, message: `must have at least ${String(p['limit'])} item(s)` };
    case 'maxItems':
      return { path, message: `must have at most ${String(p['limit'])} item(s)` };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { path, message: `must be ${String(p['comparison'])} ${String(p['limit'])}` };
    case 'uniqueItems':
      return { path, message: 'must not contain duplicates' };
    case 'minProperties':
      return { path, message: `must have at least ${String(p['limit'])} key(s)` };
    case 'propertyNames':
      return { path, message: 'has an invalid key name' };
    default:
      return { path, message: e.message ?? 'is invalid' };
  }
}

function article(type: string): string {
  const t = type.replace(/,/g, ' or ');
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

/**
 * Of a union's branches, those the value is not even of the type of say nothing useful ("must be a
 * string" of an object): their errors are dropped, unless no branch has the value's type, when one
 * issue names the types the union takes.
 */
function pruneUnions(errors: readonly ErrorObject[]): { kept: ErrorObject[]; extra: SchemaIssue[] } {
  const drop = new Set<ErrorObject>();
  const extra: SchemaIssue[] = [];
  for (const u of errors) {
    if (u.keyword !== 'anyOf' && u.keyword !== 'oneOf') continue;
    const prefix = `${u.schemaPath}/`;
    const branches = Map.groupBy(
      errors.filter((e) => e.schemaPath.startsWith(prefix)),
      (e) => e.schemaPath.slice(prefix.length).split('/')[0] ?? '',
    );
    // Each branch with its type error at the union's own place, if it has one: that branch does not apply.
    const mismatched = [...branches].flatMap(([n, list]) => {
      const wrong = list.find((e) => e.keyword === 'type' && e.instancePath === u.instancePath && e.schemaPath === `${prefix}${n}/type`);
      return wrong ? [{ list, wrong }] : [];
    });
    for (const { list } of mismatched) for (const e of list) drop.add(e);
    if (mismatched.length > 0 && mismatched.length === branches.size) {
      const types = [...new Set(mismatched.map(({ wrong }) => String((wrong.params as { type?: unknown }).type)))];
      extra.push({ path: formatPath(u.instancePath), message: `must be ${types.map(article).join(' or ')}` });
    }
    const left = [...branches.values()].filter((list) => !mismatched.some((m) => m.list === list));
    if (left.length >= 2) explainBranches(u, left, drop, extra);
  }
  return { kept: errors.filter((e) => !drop.has(e)), extra };
}

/**
 * The branches of a union that the value has the type of, each failing: their errors side by side read
 * as contradictions ("column is required", "join is required"). Said instead: the values the branches
 * take (`must be one of: "key", "hash"`), the keys of which one is needed (`must have one of the keys:
 * column, join`, with what every branch says besides), or else the errors of the branch the value comes
 * closest to, when one has fewer than all others.
 */
function explainBranches(u: ErrorObject, left: readonly ErrorObject[][], drop: Set<ErrorObject>, extra: SchemaIssue[]): void {
  const here = (e: ErrorObject) => e.instancePath === u.instancePath;
  const path = formatPath(u.instancePath);
  if (left.every((list) => list.length === 1 && list[0]?.keyword === 'const' && here(list[0]))) {
    for (const list of left) for (const e of list) drop.add(e);
    const values = left.map((list) => JSON.stringify((list[0]?.params as { allowedValue?: unknown }).allowedValue));
    extra.push({ path, message: `must be one of: ${values.join(', ')}` });
    return;
  }
  const said = (e: ErrorObject) => {
    const d = describe(e);
    return `${d.path}|${d.message}`;
  };
  const common = left.slice(1).reduce((acc, list) => new Set(list.map(said).filter((x) => acc.has(x))), new Set((left[0] ?? []).map(said)));
  const own = left.map((list) => list.filter((e) => !common.has(said(e))));
  if (own.every((list) => list.length === 1 && list[0]?.keyword === 'required' && here(list[0]))) {
    for (const list of own) for (const e of list) drop.add(e);
    const keys = own.map((list) => String((list[0]?.params as { missingProperty?: unknown }).missingProperty));
    extra.push({ path, message: `must have one of the keys: ${keys.join(', ')}` });
    return;
  }
  const fewest = Math.min(...left.map((list) => list.length));
  const closest = left.filter((list) => list.length === fewest);
  if (closest.length === 1) for (const list of left) if (list !== closest[0]) for (const e of list) drop.add(e);
}

/** The most useful issues first, without the noise of anyOf branches and duplicates. */
export function describeErrors(errors: readonly ErrorObject[] | null | undefined): SchemaIssue[] {
  if (!errors) return [];
  const { kept, extra } = pruneUnions(errors);
  const issues = [...kept.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf' && e.keyword !== 'if').map(describe), ...extra];
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${issue.path}|${issue.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function compile<S extends TSchema>(schema: S): Validator<Static<S>> {
  const fn: ValidateFunction = ajv.compile(schema as object);
  const check = ((value: unknown) => fn(value)) as Validator<Static<S>>;
  check.issues = (value: unknown) => (fn(value) ? [] : describeErrors(fn.errors));
  return check;
}

/** For schemas built at run time (per-collection record schemas). */
export function compileDynamic(schema: object): Validator<Record<string, unknown>> {
  const fn: ValidateFunction = ajv.compile(schema);
  const check = ((value: unknown) => fn(value)) as Validator<Record<string, unknown>>;
  check.issues = (value: unknown) => (fn(value) ? [] : describeErrors(fn.errors));
  return check;
}
