import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Enclave } from '../../services/enclave.ts';
import { principalOf } from '../auth.ts';
import { receipted } from '../log-receipt.ts';
import { LogIndex, RegisterSubjectBody, RehomeBody, SubjectId } from '../schemas.ts';

const Err = { $ref: 'Error#' };
const Subj = { $ref: 'Subject#' };
const errors = { 400: Err, 401: Err, 403: Err, 404: Err, 409: Err, 410: Err, 413: Err, 415: Err, 422: Err, 503: Err };
const security = [{ bearer: [] }];
const Params = Type.Object({ id: SubjectId });

export function subjectRoutes(app: FastifyInstance, enclave: Enclave): void {
  const { vault } = enclave;

  app.post<{ Body: { id: string; country: string } }>(
    '/v1/subjects',
    {
      schema: {
        tags: ['subjects'],
        summary: 'Register a subject at the home site of their residence country\'s jurisdiction',
        description: 'A country in no jurisdiction, or a jurisdiction without a home site, is refused (422); data is never stored anywhere by default.',
        security,
        body: RegisterSubjectBody,
        response: { 201: Subj, ...errors, 409: Err },
      },
    },
    async (request, reply) => {
      const view = await receipted(reply, () => vault.registerSubject(principalOf(request), request.body));
      return reply.status(201).header('location', `/v1/subjects/${encodeURIComponent(view.id)}`).send(view);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/subjects/:id',
    { schema: { tags: ['subjects'], summary: 'Where a subject lives', security, params: Params, response: { 200: Subj, ...errors } } },
    async (request, reply) => receipted(reply, () => vault.getSubject(principalOf(request), request.params.id)),
  );

  app.post<{ Params: { id: string }; Body: { country: string } }>(
    '/v1/subjects/:id/rehome',
    {
      schema: {
        tags: ['subjects'],
        summary: 'Re-home a subject after a change of residence (explicit, never silent)',
        security,
        params: Params,
        body: RehomeBody,
        response: {
          200: Type.Object({
            subject: Type.String(),
            from: Type.Object({ jurisdiction: Type.String(), site: Type.String() }),
            to: Type.Object({ jurisdiction: Type.String(), site: Type.String() }),
            records: Type.Integer(),
            log_index: LogIndex,
          }),
          ...errors,
        },
      },
    },
    async (request, reply) => receipted(reply, () => vault.rehomeSubject(principalOf(request), request.params.id, request.body.country)),
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/subjects/:id',
    {
      schema: {
        tags: ['subjects'],
        summary: 'Erase a subject: destroy their data key so every record of theirs is unreadable (crypto-shredding)',
        security,
        params: Params,
        response: { 200: Type.Object({ subject: Type.String(), records: Type.Integer(), erased_at: Type.String(), log_index: LogIndex }), ...errors },
      },
    },
    async (request, reply) => receipted(reply, () => vault.eraseSubject(principalOf(request), request.params.id)),
  );
}
