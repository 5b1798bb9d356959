// Access requests, approvals, grants and break-glass over HTTP (issue 3 points 2–4, 8).
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { AccessKind } from '../../core/store.ts';
import { REQUEST_STATES, type RequestState } from '../../core/api-ids.ts';
import type { AccessInput, ReviewState } from '../../services/access-service.ts';
import type { Enclave } from '../../services/enclave.ts';
import { principalOf } from '../auth.ts';
import { AccessRequestBody, GrantId, LimitQuery, RequestId, ReviewBody, VerdictBody } from '../gatekeeper-schemas.ts';

const Err = { $ref: 'Error#' };
const Req = { $ref: 'AccessRequest#' };
const Grant = { $ref: 'Grant#' };
const errors = { 400: Err, 401: Err, 403: Err, 404: Err, 409: Err, 413: Err, 415: Err, 422: Err, 503: Err };
const security = [{ bearer: [] }];
const tags = ['access'];

interface AccessBody {
  scope: { subjects?: string[]; collections?: string[]; fields?: string[] };
  purpose: string;
  justification: { code: string; text: string };
  duration_seconds: number;
}

const input = (b: AccessBody): AccessInput => ({ scope: b.scope, purpose: b.purpose, justification: b.justification, durationSeconds: b.duration_seconds });
const limitOf = (q: { limit?: string }) => (q.limit === undefined ? {} : { limit: Number(q.limit) });

export function accessRoutes(app: FastifyInstance, enclave: Enclave): void {
  const { access } = enclave;

  app.post<{ Body: AccessBody }>(
    '/v1/access/requests',
    {
      schema: {
        tags,
        summary: 'Request access to protected fields: scope, purpose, justification, duration',
        description: 'The request waits for k approvals from the configured approver groups (never the requester); the last one creates a time-bound grant. Pending requests expire.',
        security,
        body: AccessRequestBody,
        response: { 201: Req, ...errors },
      },
    },
    async (request, reply) => {
      const view = await access.request(principalOf(request), input(request.body));
      return reply.status(201).header('location', `/v1/access/requests/${view.id}`).send(view);
    },
  );

  app.get<{ Querystring: { status?: RequestState; kind?: AccessKind; limit?: string } }>(
    '/v1/access/requests',
    {
      schema: {
        tags,
        summary: 'List access requests and break-glass grants, newest first',
        security,
        querystring: Type.Object(
          { status: Type.Optional(Type.Enum(REQUEST_STATES)), kind: Type.Optional(Type.Enum(['access', 'breakglass'])), limit: LimitQuery },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ requests: Type.Array(Req) }), ...errors },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const requests = await access.list(principalOf(request), { ...(q.status ? { status: q.status } : {}), ...(q.kind ? { kind: q.kind } : {}), ...limitOf(q) });
      return reply.header('cache-control', 'no-store').send({ requests });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/access/requests/:id',
    { schema: { tags, summary: 'One access request or break-glass grant, with its approvals and digest', security, params: Type.Object({ id: RequestId }), response: { 200: Req, ...errors } } },
    async (request, reply) => reply.header('cache-control', 'no-store').send(await access.get(principalOf(request), request.params.id)),
  );

  for (const verdict of ['approve', 'deny'] as const) {
    app.post<{ Params: { id: string }; Body: { digest: string; comment?: string } }>(
      `/v1/access/requests/:id/${verdict}`,
      {
        schema: {
          tags,
          summary: verdict === 'approve' ? 'Approve a pending request by its content digest' : 'Deny a pending request (one denial ends it)',
          description: 'The digest must be the request\'s: an approval is bound to the request\'s id and content and counts nowhere else.',
          security,
          params: Type.Object({ id: RequestId }),
          body: VerdictBody,
          response: { 200: Req, ...errors },
        },
      },
      async (request) => access.review(principalOf(request), request.params.id, { verdict, digest: request.body.digest, ...(request.body.comment === undefined ? {} : { comment: request.body.comment }) }),
    );
  }

  app.get<{ Querystring: { principal?: string; limit?: string } }>(
    '/v1/access/grants',
    {
      schema: {
        tags,
        summary: 'List grants, newest first, with their state (active, expired, revoked)',
        security,
        querystring: Type.Object({ principal: Type.Optional(Type.String({ maxLength: 64 })), limit: LimitQuery }, { additionalProperties: false }),
        response: { 200: Type.Object({ grants: Type.Array(Grant) }), ...errors },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const grants = await access.grants(principalOf(request), { ...(q.principal ? { principal: q.principal } : {}), ...limitOf(q) });
      return reply.header('cache-control', 'no-store').send({ grants });
    },
  );

  app.post<{ Params: { id: string } }>(
    '/v1/access/grants/:id/revoke',
    { schema: { tags, summary: 'Revoke a grant at once', security, params: Type.Object({ id: GrantId }), response: { 200: Grant, ...errors } } },
    async (request) => access.revoke(principalOf(request), request.params.id),
  );

  app.post<{ Body: AccessBody }>(
    '/v1/break-glass',
    {
      schema: {
        tags,
        summary: 'Open emergency access now, without prior approval (configured roles only)',
        description:
          'Short (gatekeeper.break_glass.max_duration), justified, flagged everywhere, and due for review by k approvers within gatekeeper.break_glass.review.within. The scope names its subjects, at most gatekeeper.break_glass.max_subjects (422 invalid_scope otherwise); one principal holds at most gatekeeper.break_glass.max_open open at once, and has at most gatekeeper.break_glass.max_unreviewed uses awaiting review, open or not (409 breakglass_limit otherwise; a review clears the latter).',
        security,
        body: AccessRequestBody,
        response: { 201: Req, ...errors },
      },
    },
    async (request, reply) => {
      const view = await access.breakGlass(principalOf(request), input(request.body));
      return reply.status(201).header('location', `/v1/access/requests/${view.id}`).send(view);
    },
  );

  app.get<{ Querystring: { review?: ReviewState; limit?: string } }>(
    '/v1/break-glass',
    {
      schema: {
        tags,
        summary: 'Break-glass uses and their review state; overdue ones are those unreviewed past their deadline',
        security,
        querystring: Type.Object({ review: Type.Optional(Type.Enum(['awaiting-review', 'reviewed', 'overdue', 'unjustified'])), limit: LimitQuery }, { additionalProperties: false }),
        response: { 200: Type.Object({ requests: Type.Array(Req), overdue: Type.Integer() }), ...errors },
      },
    },
    async (request, reply) => {
      const all = await access.list(principalOf(request), { kind: 'breakglass', ...limitOf(request.query) });
      const wanted = request.query.review;
      return reply.header('cache-control', 'no-store').send({ requests: wanted ? all.filter((r) => r.review === wanted) : all, overdue: all.filter((r) => r.review === 'overdue').length });
    },
  );

  app.post<{ Params: { id: string }; Body: { digest: string; verdict: 'justified' | 'unjustified'; comment?: string } }>(
    '/v1/break-glass/:id/review',
    {
      schema: {
        tags,
        summary: 'Review a break-glass use: justified, or unjustified (revokes its grant at once)',
        security,
        params: Type.Object({ id: RequestId }),
        body: ReviewBody,
        response: { 200: Req, ...errors },
      },
    },
    async (request) =>
      access.reviewBreakGlass(principalOf(request), request.params.id, {
        verdict: request.body.verdict === 'justified' ? 'approve' : 'deny',
        digest: request.body.digest,
        ...(request.body.comment === undefined ? {} : { comment: request.body.comment }),
      }),
  );
}
