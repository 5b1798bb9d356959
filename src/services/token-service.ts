// Principals and their bearer tokens. Only SHA-256 hashes are stored; the secret is shown once. Issuing
// and revoking are logged in the transparency log: a token whose issue cannot be logged is revoked
// before anyone sees its secret (fail closed).
import { randomBytes } from 'node:crypto';
import type { EnclaveConfig } from '../core/config.ts';
import { EnclaveError } from '../core/errors.ts';
import type { EventLog, LogActor } from '../core/event-log.ts';
import type { Principal } from '../core/principal.ts';
import type { TokenStore, TokenWithPrincipal } from '../core/store.ts';
import { ID_PATTERN } from '../core/api-ids.ts';
import { namedIndependent } from '../core/quorum.ts';
import { hashToken, looksLikeToken, newTokenSecret } from '../crypto/token-secret.ts';
import type { TokenCache } from './token-cache.ts';

export interface IssuedToken {
  readonly id: string;
  readonly secret: string;
  readonly principal: string;
  readonly org: string;
  readonly role: string;
  readonly expiresAt: string | null;
}

export interface TokenRequest {
  readonly principal: string;
  readonly org: string;
  readonly role: string;
  readonly label?: string;
  /** Lifetime in seconds; none means it lasts until revoked. */
  readonly ttlSeconds?: number;
}

const PRINCIPAL_RE = new RegExp(ID_PATTERN);

export function newTokenId(): string {
  return `tok_${randomBytes(9).toString('base64url')}`;
}

/** Refuses a token request naming an unknown org or role, a malformed principal id or a bad lifetime. */
export function checkTokenRequest(config: EnclaveConfig, req: TokenRequest): void {
  if (!PRINCIPAL_RE.test(req.principal)) throw new EnclaveError('invalid_argument', `principal must match ${ID_PATTERN}`);
  const org = config.orgs.get(req.org);
  if (!org) throw new EnclaveError('invalid_argument', `unknown org "${req.org}" (expected one of: ${[...config.orgs.keys()].join(', ')})`);
  if (!org.roles.has(req.role)) {
    throw new EnclaveError('invalid_argument', `org "${req.org}" has no role "${req.role}" (expected one of: ${[...org.roles.keys()].join(', ')})`);
  }
  if (req.ttlSeconds !== undefined && (!Number.isInteger(req.ttlSeconds) || req.ttlSeconds <= 0)) {
    throw new EnclaveError('invalid_argument', 'ttl must be a positive whole number of seconds');
  }
  if (req.label !== undefined && req.label.length > 200) throw new EnclaveError('invalid_argument', 'a label has at most 200 characters');
  // A group lists principals by id, whatever their org: a principal named in the check from outside the
  // gatekeeper team (a group a `require` names, e.g. monitors) given a gatekeeper role would let a
  // gatekeeper quorum mint itself that check.
  const g = config.gatekeeper;
  const group = namedIndependent(g.independent, g.groups, req.principal, req.org);
  if (group !== undefined && g.independent.gatekeeperOrgs.has(req.org)) {
    throw new EnclaveError(
      'invalid_argument',
      `principal "${req.principal}" is named in approver group "${group}", the check from outside the gatekeeper team that the approval rules require: it cannot hold a role of gatekeeper org "${req.org}"`,
    );
  }
}

export class TokenService {
  private readonly store: TokenStore;
  private readonly config: EnclaveConfig;
  private readonly log: EventLog | undefined;
  private readonly cache: TokenCache | undefined;
  /** authenticate(): the principal of each token as found (cached or read), made once. */
  private readonly principals = new WeakMap<TokenWithPrincipal, Principal>();

  constructor(store: TokenStore, config: EnclaveConfig, log?: EventLog, cache?: TokenCache) {
    this.store = store;
    this.config = config;
    this.log = log;
    this.cache = cache;
  }

  /**
   * Issues a token directly: the bootstrap path of `init` and `demo` only; every other token goes through
   * a proposal (ChangeService). `actor` is who issues it (absent for the bootstrap).
   */
  async issue(req: TokenRequest, now = Date.now(), actor?: LogActor): Promise<IssuedToken> {
    checkTokenRequest(this.config, req);
    const secret = newTokenSecret();
    const id = newTokenId();
    const expiresAt = req.ttlSeconds === undefined ? null : now + req.ttlSeconds * 1000;
    const outcome = await this.store.create(
      { id: req.principal, org: req.org, role: req.role, createdAt: now },
      { id, hash: hashToken(secret), principalId: req.principal, label: req.label ?? '', createdAt: now, expiresAt, revokedAt: null, replaces: null, lineage: id },
    );
    if (outcome === 'principal_mismatch') {
      throw new EnclaveError('invalid_argument', `principal "${req.principal}" already exists with another org or role`);
    }
    try {
      await this.log?.append({
        type: 'token.issued',
        ...(actor ? { principal: actor } : {}),
        details: { token: id, principal: req.principal, org: req.org, role: req.role, expires_at: expiresAt === null ? null : new Date(expiresAt).toISOString() },
      });
    } catch (err) {
      await this.store.revoke(id, now);
      this.cache?.clear();
      throw err;
    }
    return { id, secret, principal: req.principal, org: req.org, role: req.role, expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString() };
  }

  /** Resolves a bearer secret to its principal, or throws `unauthenticated` without saying which check failed. */
  async authenticate(secret: string, now = Date.now()): Promise<Principal> {
    if (!looksLikeToken(secret)) throw new EnclaveError('unauthenticated', 'the bearer token is malformed');
    const found = await this.find(hashToken(secret), now);
    if (!found || found.token.revokedAt !== null || (found.token.expiresAt !== null && found.token.expiresAt <= now)) {
      throw new EnclaveError('unauthenticated', 'the bearer token is unknown, expired or revoked');
    }
    // One principal object per token as cached (the configuration is fixed for the process), so that
    // what is kept per principal object (its purposes, the log's copy of the actor) is kept once.
    let principal = this.principals.get(found);
    if (!principal) {
      const org = this.config.orgs.get(found.principal.org);
      if (!org?.roles.has(found.principal.role)) {
        throw new EnclaveError('unauthenticated', 'the token\'s org or role is no longer configured');
      }
      principal = Object.freeze({ id: found.principal.id, org: org.id, orgKind: org.kind, role: found.principal.role, tokenId: found.token.id });
      this.principals.set(found, principal);
    }
    return principal;
  }

  private async find(hash: string, now: number): Promise<TokenWithPrincipal | undefined> {
    const cache = this.cache;
    if (!cache) return this.store.findByHash(hash);
    const hit = cache.get(hash, now);
    if (hit) return hit;
    const generation = cache.currentGeneration;
    const found = await this.store.findByHash(hash);
    if (found && found.token.revokedAt === null) cache.set(hash, found, now, generation);
    return found;
  }
}
