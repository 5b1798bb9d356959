// Bearer authentication: `Authorization: Bearer enc_…`. The principal comes only from the token.
import type { FastifyRequest } from 'fastify';
import { EnclaveError } from '../core/errors.ts';
import type { Principal } from '../core/principal.ts';
import type { TokenService } from '../services/token-service.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/**
 * Whether the request carried the Authorization header more than once. Node keeps the first and drops
 * the others silently, while a proxy in front may act on another one: such a request is ambiguous.
 */
function repeatedAuthorization(request: FastifyRequest): boolean {
  const raw = request.raw.rawHeaders;
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name?.length === 13 && name.toLowerCase() === 'authorization' && ++seen > 1) return true;
  }
  return false;
}

export function bearerOf(request: FastifyRequest): string {
  const header = request.headers.authorization;
  if (header === undefined || header === '') throw new EnclaveError('unauthenticated', 'send an Authorization: Bearer <token> header');
  if (repeatedAuthorization(request)) throw new EnclaveError('unauthenticated', 'send one Authorization header, not several');
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m?.[1]) throw new EnclaveError('unauthenticated', 'the Authorization header must be "Bearer <token>"');
  return m[1];
}

/** The header in which a request states its purpose (issue 3: services act only for configured purposes). */
export const PURPOSE_HEADER = 'enclave-purpose';

/** The stated purpose, if any; one outside the configured purposes is refused, not ignored. */
export function purposeOf(request: FastifyRequest, purposes: readonly string[]): string | undefined {
  const raw = request.headers[PURPOSE_HEADER];
  if (raw === undefined) return undefined;
  const value = Array.isArray(raw) ? raw.join(',') : raw;
  if (!purposes.includes(value)) {
    throw new EnclaveError('unknown_purpose', `the ${PURPOSE_HEADER} header names no configured purpose (expected one of: ${purposes.join(', ')})`, { details: { field: PURPOSE_HEADER } });
  }
  return value;
}

/**
 * A token's principal acting for a purpose: one object per principal and purpose, as long as the token
 * cache keeps the principal, so that what is kept per principal object (the log's copy of the actor) is
 * kept once, not once a request.
 */
const withPurpose = new WeakMap<Principal, Map<string, Principal>>();

function actingFor(found: Principal, purpose: string): Principal {
  let byPurpose = withPurpose.get(found);
  if (!byPurpose) {
    byPurpose = new Map();
    withPurpose.set(found, byPurpose);
  }
  let principal = byPurpose.get(purpose);
  if (!principal) {
    principal = Object.freeze({ ...found, purpose });
    byPurpose.set(purpose, principal);
  }
  return principal;
}

export async function authenticate(tokens: TokenService, request: FastifyRequest, purposes: readonly string[]): Promise<Principal> {
  const found = await tokens.authenticate(bearerOf(request));
  const purpose = purposeOf(request, purposes);
  const principal = purpose === undefined ? found : actingFor(found, purpose);
  request.principal = principal;
  return principal;
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new EnclaveError('unauthenticated');
  return request.principal;
}
