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

export function bearerOf(request: FastifyRequest): string {
  const header = request.headers.authorization;
  if (header === undefined || header === '') throw new EnclaveError('unauthenticated', 'send an Authorization: Bearer <token> header');
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m?.[1]) throw new EnclaveError('unauthenticated', 'the Authorization header must be "Bearer <token>"');
  return m[1];
}

export async function authenticate(tokens: TokenService, request: FastifyRequest): Promise<Principal> {
  const principal = await tokens.authenticate(bearerOf(request));
  request.principal = principal;
  return principal;
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new EnclaveError('unauthenticated');
  return request.principal;
}
