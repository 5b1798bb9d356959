// Policies, change proposals and tokens over HTTP (issue 3 points 6 and 8). Every change here is a
// proposal that k approvers must approve; only one's own token is revoked at once.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ProposalKind } from '../../core/store.ts';
import { PROPOSAL_STATES, type ProposalState } from '../../core/api-ids.ts';
import type { Enclave } from '../../services/enclave.ts';
import { principalOf } from '../auth.ts';
import { LimitQuery, PolicyProposalBody, PolicyVersionView, PolicyVersionWithText, ProposalId, TokenId, TokenProposalBody, TokenView, VerdictBody } from '../gatekeeper-schemas.ts';

const Err = { $ref: 'Error#' };
const Prop = { $ref: 'Proposal#' };
const errors = { 400: Err, 401: Err, 403: Err, 404: Err, 409: Err, 413: Err, 415: Err, 422: Err, 503: Err };
const security = [{ bearer: [] }];

export function changeRoutes(app: FastifyInstance, enclave: Enclave): void {
  const { changes } = enclave;

  app.get(
    '/v1/policies',
    {
      schema: {
        tags: ['policies'],
        summary: 'The active Cedar policy set, the built-in invariants, and every version kept',
        security,
        response: { 200: Type.Object({ active: PolicyVersionWithText, invariants: Type.String(), versions: Type.Array(PolicyVersionView) }), ...errors },
      },
    },
    async (request) => changes.policy(principalOf(request)),
  );

  app.get(
    '/v1/policies/schema',
    { schema: { tags: ['policies'], summary: 'The Cedar schema generated from the configuration, which policies are validated against', security, response: { 200: Type.Object({ schema: Type.String() }), ...errors } } },
    async (request) => ({ schema: await changes.schema(principalOf(request)) }),
  );

  app.get<{ Params: { version: string } }>(
    '/v1/policies/versions/:version',
    {
      schema: {
        tags: ['policies'],
        summary: 'One policy version, with its text',
        security,
        params: Type.Object({ version: Type.String({ pattern: '^[1-9][0-9]{0,8}$' }) }),
        response: { 200: PolicyVersionWithText, ...errors },
      },
    },
    async (request) => changes.policyVersion(principalOf(request), Number(request.params.version)),
  );

  app.post<{ Body: { text: string; description?: string } }>(
    '/v1/policies/proposals',
    {
      schema: {
        tags: ['policies'],
        summary: 'Propose a new policy set (refused at once with Cedar\'s diagnostics if it does not parse or validate)',
        description: 'The proposal shows its diff against the active set and becomes active only after k approvals (gatekeeper.policy_approval). The invariants are not part of it and cannot be replaced.',
        security,
        body: PolicyProposalBody,
        response: { 201: Prop, ...errors },
      },
    },
    async (request, reply) => {
      const view = await changes.proposePolicy(principalOf(request), { text: request.body.text, ...(request.body.description === undefined ? {} : { description: request.body.description }) });
      return reply.status(201).header('location', `/v1/proposals/${view.id}`).send(view);
    },
  );

  app.get<{ Querystring: { kind?: ProposalKind; status?: ProposalState; limit?: string } }>(
    '/v1/proposals',
    {
      schema: {
        tags: ['policies'],
        summary: 'Change proposals (policies, tokens), newest first',
        security,
        querystring: Type.Object(
          {
            kind: Type.Optional(Type.Enum(['policy', 'token.issue', 'token.revoke'])),
            status: Type.Optional(Type.Enum(PROPOSAL_STATES)),
            limit: LimitQuery,
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ proposals: Type.Array(Prop) }), ...errors },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const proposals = await changes.list(principalOf(request), { ...(q.kind ? { kind: q.kind } : {}), ...(q.status ? { status: q.status } : {}), ...(q.limit ? { limit: Number(q.limit) } : {}) });
      return reply.header('cache-control', 'no-store').send({ proposals });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/proposals/:id',
    { schema: { tags: ['policies'], summary: 'One proposal, with its digest, diff and approvals', security, params: Type.Object({ id: ProposalId }), response: { 200: Prop, ...errors } } },
    async (request, reply) => reply.header('cache-control', 'no-store').send(await changes.get(principalOf(request), request.params.id)),
  );

  for (const [path, verdict] of [['approve', 'approve'], ['reject', 'deny']] as const) {
    app.post<{ Params: { id: string }; Body: { digest: string; comment?: string } }>(
      `/v1/proposals/:id/${path}`,
      {
        schema: {
          tags: ['policies'],
          summary: verdict === 'approve' ? 'Approve a proposal by its content digest; the approval completing the quorum applies it' : 'Reject a proposal (one rejection ends it)',
          security,
          params: Type.Object({ id: ProposalId }),
          body: VerdictBody,
          response: { 200: Prop, ...errors },
        },
      },
      async (request) => changes.review(principalOf(request), request.params.id, { verdict, digest: request.body.digest, ...(request.body.comment === undefined ? {} : { comment: request.body.comment }) }),
    );
  }

  app.get(
    '/v1/tokens',
    { schema: { tags: ['tokens'], summary: 'Tokens of every principal (never their secrets)', security, response: { 200: Type.Object({ tokens: Type.Array(TokenView) }), ...errors } } },
    async (request, reply) => reply.header('cache-control', 'no-store').send({ tokens: await changes.tokens(principalOf(request)) }),
  );

  app.post<{ Body: { principal: string; org: string; role: string; ttl_seconds?: number; label?: string } }>(
    '/v1/tokens',
    {
      schema: {
        tags: ['tokens'],
        summary: 'Propose a token for a principal; the secret is returned once and works after k approvals',
        description: 'Only the SHA-256 of the secret is stored. The token becomes valid when gatekeeper.token_approval is met.',
        security,
        body: TokenProposalBody,
        response: { 202: Type.Object({ proposal: Prop, secret: Type.String() }), ...errors },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const out = await changes.proposeToken(principalOf(request), {
        principal: b.principal,
        org: b.org,
        role: b.role,
        ...(b.ttl_seconds === undefined ? {} : { ttlSeconds: b.ttl_seconds }),
        ...(b.label === undefined ? {} : { label: b.label }),
      });
      return reply.status(202).header('cache-control', 'no-store').send(out);
    },
  );

  app.post(
    '/v1/tokens/rotate',
    {
      schema: {
        tags: ['tokens'],
        summary: 'Replace the token this request uses with a new one (same principal, label and expiry) and revoke it',
        description:
          'No approval is needed: the new token can do nothing the old one could not. Whoever proposed a token for another principal saw its secret; rotating on receipt ends that copy. The new secret is returned once.',
        security,
        response: { 200: Type.Object({ token: TokenView, secret: Type.String(), replaced: Type.String() }), ...errors },
      },
    },
    async (request, reply) => reply.header('cache-control', 'no-store').send(await changes.rotateOwnToken(principalOf(request))),
  );

  app.post<{ Params: { id: string } }>(
    '/v1/tokens/:id/revoke',
    {
      schema: {
        tags: ['tokens'],
        summary: 'Revoke one\'s own token at once, or propose revoking another principal\'s',
        description: 'The revocation ends the token and every token rotated from it: a token its holder rotated since it was listed is revoked through its old id.',
        security,
        params: Type.Object({ id: TokenId }),
        response: { 200: Type.Object({ revoked: Type.Literal(true), token: Type.String() }), 202: Type.Object({ revoked: Type.Literal(false), proposal: Prop }), ...errors },
      },
    },
    async (request, reply) => {
      const out = await changes.revokeToken(principalOf(request), request.params.id);
      return reply.status(out.revoked ? 200 : 202).send(out);
    },
  );
}
