// The Cedar engine (@cedar-policy/cedar-wasm): parses and validates policy sets against the schema the
// configuration generates, keeps the active set preparsed, and evaluates requests. Requests carry no
// entity data: the principal's kind is its entity type and everything else is in the context, so one
// evaluation is a single call into the WebAssembly module.
import {
  checkParseSchema,
  policySetTextToParts,
  policyToJson,
  preparsePolicySet,
  statefulIsAuthorized,
  validate,
  type Context,
  type DetailedError,
  type PolicyJson,
} from '@cedar-policy/cedar-wasm/nodejs';
import { randomBytes } from 'node:crypto';
import { policyComplexityProblem } from '../core/cedar-complexity.ts';
import { CONTEXT_ATTRIBUTES, cedarSchemaText } from '../core/cedar-schema.ts';
import type { EnclaveConfig } from '../core/config.ts';
import { ACTIONS, GATEKEEPER_ACTIONS } from '../core/config-schema.ts';
import { DEFAULT_POLICIES, INVARIANT_ID_PREFIX, INVARIANT_POLICIES } from '../core/default-policies.ts';
import { EnclaveError } from '../core/errors.ts';

export const POLICY_ID_PATTERN = '^[a-z0-9][a-z0-9/_.-]{0,99}$';
const POLICY_ID_RE = new RegExp(POLICY_ID_PATTERN);
/** The pseudo-policy that decides when no permit applies (Cedar's default deny). */
export const DEFAULT_DENY = 'default-deny';
/** The decisions the decision point makes without Cedar while the engine is failed are named under this prefix. */
export const ENGINE_FAILED_PREFIX = 'engine-failed/';
export const MAX_POLICY_TEXT = 256 * 1024;

export interface PolicyInfo {
  readonly id: string;
  readonly effect: 'permit' | 'forbid';
  readonly text: string;
  /** The `@reason` annotation: the sentence a user reads when this policy decides. */
  readonly reason: string | undefined;
  /** The context attributes its conditions read. An allow by a policy that reads `grant` is an allow under the grant. */
  readonly reads: ReadonlySet<string>;
  /** The actions its scope names; undefined when it applies to every action. */
  readonly actions: ReadonlySet<string> | undefined;
}

export interface ParsedPolicySet {
  readonly text: string;
  readonly policies: ReadonlyMap<string, PolicyInfo>;
}

export interface CedarRequest {
  readonly principal: { readonly type: string; readonly id: string };
  readonly action: string;
  readonly resource: { readonly type: string; readonly id: string };
  readonly context: Context;
}

export interface CedarAnswer {
  readonly allow: boolean;
  /** Policies that decided: the satisfied permits of an allow, the satisfied forbids of a deny. */
  readonly policies: readonly string[];
  /** Policies that failed to evaluate (the answer is then a deny). */
  readonly errors: readonly string[];
}

/** `line:col` of an offset, 1-based. */
function position(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `${line}:${offset - before.lastIndexOf('\n')}`;
}

function describe(e: DetailedError, text: string, base = 0, policyId?: string): string {
  const where = e.sourceLocations?.[0];
  const at = where ? ` (at ${position(text, base + where.start)})` : '';
  const help = e.help ? `; ${e.help}` : '';
  return `${policyId ? `policy "${policyId}": ` : ''}${e.message}${help}${at}`;
}

function invalid(problems: readonly string[]): EnclaveError {
  const head = problems.length === 1 ? problems[0] : `${problems.length} problems: ${problems.join('; ')}`;
  return new EnclaveError('policy_invalid', `the policy set is refused: ${head ?? 'it does not parse'}`, { details: { problems: problems.slice(0, 50) } });
}

/**
 * The context attributes a policy's conditions read (`context.x`, `context has x`). The context used any
 * other way (`(if c then context else context).x`, `context == {…}`) may read any of them: all are given,
 * or a forbid that reads one left out would see it missing and not apply.
 */
function contextAttributes(node: unknown, into: Set<string>): Set<string> {
  if (Array.isArray(node)) {
    for (const n of node) contextAttributes(n, into);
    return into;
  }
  if (node === null || typeof node !== 'object') return into;
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
    if (k === 'Var' && v === 'context') for (const a of CONTEXT_ATTRIBUTES) into.add(a);
    if ((k === '.' || k === 'has') && v !== null && typeof v === 'object') {
      const { left, attr, ...rest } = v as { left?: { Var?: string }; attr?: string | string[] };
      const first = Array.isArray(attr) ? attr[0] : attr;
      if (left?.Var === 'context' && first !== undefined) {
        into.add(first);
        contextAttributes(rest, into);
        continue;
      }
    }
    contextAttributes(v, into);
  }
  return into;
}

const NO_ATTRIBUTES: ReadonlySet<string> = new Set();

/**
 * Characters that show as nothing, or move the text around them, in the views approvers read (a zero-width
 * space in a string literal, a bidirectional override, a lone carriage return, which ends a Cedar comment):
 * with them the text Cedar runs is not the text approved. Tabs, line feeds and CR LF pass.
 */
const HIDDEN_CHARACTER = /[\p{Cc}\p{Cf}\p{Co}\p{Cs}\p{Zl}\p{Zp}\u115f\u1160\u3164\uffa0]/gu;

function hiddenCharacterProblem(text: string): string | undefined {
  for (const m of text.matchAll(HIDDEN_CHARACTER)) {
    const ch = m[0];
    if (ch === '\t' || ch === '\n' || (ch === '\r' && text[m.index + 1] === '\n')) continue;
    const code = `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
    return `character ${code} (at ${position(text, m.index)}) is invisible or reorders the text around it, so approvers would not read what Cedar runs: remove it, or write it in a string as \\u{${code.slice(2).toLowerCase()}}`;
  }
  return undefined;
}

/** The action ids a policy's scope names (`action == A`, `action in [A, B]`); undefined for `action`. */
function scopeActions(j: PolicyJson): ReadonlySet<string> | undefined {
  const a = j.action;
  if (a.op === 'All') return undefined;
  const uid = (e: unknown) => {
    const u = e as { __entity?: { id: string }; id?: string };
    return u.__entity?.id ?? u.id ?? '';
  };
  if (a.op === '==') return 'slot' in a ? undefined : new Set([uid(a.entity)]);
  return new Set('entities' in a ? a.entities.map(uid) : [uid(a.entity)]);
}

export class PolicyEngine {
  readonly schema: string;
  readonly invariants: ParsedPolicySet;
  private readonly instance = randomBytes(6).toString('hex');
  private active:
    | {
        readonly version: number;
        readonly set: ParsedPolicySet;
        /** One preparsed set per action, holding only the policies whose scope can match it. */
        readonly cedarIds: ReadonlyMap<string, string>;
        readonly reads: ReadonlySet<string>;
      }
    | undefined;
  private epoch = 0;
  private broken: EnclaveError | undefined;

  constructor(config: EnclaveConfig) {
    this.schema = cedarSchemaText(config);
    const check = checkParseSchema(this.schema);
    if (check.type !== 'success') {
      throw new EnclaveError('invalid_config', `the configuration yields no valid Cedar schema: ${check.errors.map((e) => e.message).join('; ')}`);
    }
    this.invariants = this.parse(INVARIANT_POLICIES, { invariants: true });
  }

  static defaultText(): string {
    return DEFAULT_POLICIES;
  }

  /**
   * Parses and validates a policy set against the generated schema. Every policy needs a unique
   * `@id("…")` (its name in decisions and the log); ids starting with `invariant/` are reserved;
   * templates are not accepted; nor is a character that hides or reorders text (a version stored before
   * that check, `stored`, still loads). Throws `policy_invalid` with Cedar's diagnostics.
   */
  parse(text: string, options: { invariants?: boolean; stored?: boolean } = {}): ParsedPolicySet {
    if (text.length > MAX_POLICY_TEXT) throw invalid([`the text is longer than ${MAX_POLICY_TEXT} characters`]);
    // Refused before the engine sees it: nesting deep enough to overflow its stack would break it for good.
    const tooComplex = policyComplexityProblem(text);
    if (tooComplex) throw invalid([`${tooComplex.message} (at ${tooComplex.line}:${tooComplex.column})`]);
    const hidden = options.stored ? undefined : hiddenCharacterProblem(text);
    if (hidden) throw invalid([hidden]);
    const parts = this.guard(() => policySetTextToParts(text));
    if (parts.type !== 'success') throw invalid(parts.errors.map((e) => describe(e, text)));
    if (parts.policy_templates.length > 0) throw invalid(['templates (policies with ?principal or ?resource slots) are not accepted']);
    if (parts.policies.length === 0) throw invalid(['the text holds no policy']);
    const problems: string[] = [];
    const policies = new Map<string, PolicyInfo>();
    const offsets = new Map<string, number>();
    parts.policies.forEach((p, i) => {
      const json = this.guard(() => policyToJson(p));
      if (json.type !== 'success') {
        problems.push(...json.errors.map((e) => describe(e, p)));
        return;
      }
      const j: PolicyJson = json.json;
      const id = j.annotations?.['id'];
      // Cedar returns the policies sorted by its own ids; find each one's place in the text for messages.
      const offset = text.indexOf(p.trim().slice(0, 60));
      const where = offset >= 0 ? ` (at ${position(text, offset)})` : ` (policy ${i + 1})`;
      if (id === undefined || id === '') problems.push(`every policy needs an @id("…") annotation${where}`);
      else if (!POLICY_ID_RE.test(id)) problems.push(`@id("${id}") must match ${POLICY_ID_PATTERN}${where}`);
      else if (policies.has(id)) problems.push(`@id("${id}") is used twice${where}`);
      else if (!options.invariants && (id.startsWith(INVARIANT_ID_PREFIX) || this.invariants.policies.has(id))) problems.push(`@id("${id}") is reserved for the built-in invariants, which no proposal can replace${where}`);
      // Decisions and the log name these when no policy decided: a policy of that name would pass for one.
      else if (id === DEFAULT_DENY || id.startsWith(ENGINE_FAILED_PREFIX)) problems.push(`@id("${id}") is reserved: decisions name it when no policy decides${where}`);
      else {
        policies.set(id, { id, effect: j.effect, text: p, reason: j.annotations?.['reason'], reads: contextAttributes(j.conditions, new Set()), actions: scopeActions(j) });
        offsets.set(id, Math.max(offset, 0));
      }
    });
    if (problems.length > 0) throw invalid(problems);
    const staticPolicies = Object.fromEntries([...policies.values()].map((p) => [p.id, p.text]));
    const answer = this.guard(() => validate({ schema: this.schema, policies: { staticPolicies }, validationSettings: { mode: 'strict' } }));
    if (answer.type !== 'success') throw invalid(answer.errors.map((e) => describe(e, text)));
    if (answer.validationErrors.length > 0) {
      throw invalid(answer.validationErrors.map((v) => describe(v.error, text, offsets.get(v.policyId) ?? 0, v.policyId)));
    }
    return { text, policies };
  }

  /** Makes a set active: from now on every evaluation uses it, with the invariants. */
  activate(version: number, text: string): void {
    const set = this.parse(text, { stored: true });
    const epoch = ++this.epoch;
    const all = [...this.invariants.policies.values(), ...set.policies.values()];
    // Cedar evaluates every policy of a set on every call; a policy whose scope names other actions can
    // never be satisfied, so each action gets the set of the policies that can (same answers, less work).
    const cedarIds = new Map<string, string>();
    for (const action of [...ACTIONS, ...GATEKEEPER_ACTIONS]) {
      const cedarId = `${this.instance}-v${version}-${epoch}-${action}`;
      const staticPolicies: Record<string, string> = {};
      for (const p of all) if (!p.actions || p.actions.has(action)) staticPolicies[p.id] = p.text;
      const pre = this.guard(() => preparsePolicySet(cedarId, { staticPolicies }));
      if (pre.type !== 'success') throw invalid(pre.errors.map((e) => describe(e, text)));
      cedarIds.set(action, cedarId);
    }
    const reads = new Set<string>();
    for (const p of all) for (const a of p.reads) reads.add(a);
    this.active = { version, set, cedarIds, reads };
  }

  /**
   * Every call into the module. A trap or stack overflow may stop the module midway with its memory
   * inconsistent: from then on every call fails closed. Any other throw (an input the module's conversion
   * refuses, before it ran) fails that call alone.
   */
  private guard<T>(call: () => T): T {
    if (this.broken) throw this.broken;
    try {
      return call();
    } catch (cause) {
      if (!(cause instanceof RangeError) && !(cause instanceof Error && cause.name === 'RuntimeError')) throw new EnclaveError('internal', 'the policy engine could not take its input', { cause });
      this.broken = new EnclaveError('policy_engine_failed', 'the policy engine failed and refuses every decision until the server restarts; the server log has the cause', { cause });
      throw this.broken;
    }
  }

  get version(): number {
    return this.active?.version ?? 0;
  }

  /** Set once a call trapped: the error every decision is refused with from then on. */
  get failure(): EnclaveError | undefined {
    return this.broken;
  }

  /** Changes on every activation: part of every decision-cache key. */
  get policyEpoch(): number {
    return this.epoch;
  }

  /**
   * The context attributes some active policy reads. Only these are passed to Cedar (and keyed in the
   * decision cache): an attribute no policy reads cannot change a decision, and each one costs time.
   */
  get contextRead(): ReadonlySet<string> {
    return this.active?.reads ?? NO_ATTRIBUTES;
  }

  get activeSet(): ParsedPolicySet | undefined {
    return this.active?.set;
  }

  info(id: string): PolicyInfo | undefined {
    return this.invariants.policies.get(id) ?? this.active?.set.policies.get(id);
  }

  evaluate(req: CedarRequest): CedarAnswer {
    const active = this.active;
    const cedarId = active?.cedarIds.get(req.action);
    if (!cedarId) return { allow: false, policies: [DEFAULT_DENY], errors: [] };
    const answer = this.guard(() =>
      statefulIsAuthorized({
      principal: req.principal,
      action: { type: 'Enclave::Action', id: req.action },
      resource: req.resource,
      context: req.context,
      preparsedPolicySetId: cedarId,
      entities: [],
      validateRequest: false,
      }),
    );
    if (answer.type !== 'success') return { allow: false, policies: [DEFAULT_DENY], errors: answer.errors.map((e) => e.message) };
    const { decision, diagnostics } = answer.response;
    // Cedar skips a policy that errors; a forbid skipped that way must not turn into an allow.
    if (diagnostics.errors.length > 0) return { allow: false, policies: diagnostics.errors.map((e) => e.policyId), errors: diagnostics.errors.map((e) => e.error.message) };
    return { allow: decision === 'allow', policies: diagnostics.reason.length > 0 ? diagnostics.reason : [DEFAULT_DENY], errors: [] };
  }
}
