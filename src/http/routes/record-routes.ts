import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { EnclaveError } from '../../core/errors.ts';
import { revisionOf } from '../../core/store.ts';
import type { Enclave } from '../../services/enclave.ts';
import type { RecordView } from '../../services/vault.ts';
import { principalOf } from '../auth.ts';
import { etagOf, ifMatching, parseIfMatch } from '../if-match.ts';
import { receipted, withReceipt } from '../log-receipt.ts';
import { CollectionName, CreateRecordBody, ListQuery, LogIndex, RecordId, ReplaceRecordBody, SubjectId } from '../schemas.ts';

const Err = { $ref: 'Error#' };
const Rec = { $ref: 'Record#' };
const errors = { 400: Err, 401: Err, 403: Err, 404: Err, 410: Err, 413: Err, 415: Err, 422: Err, 503: Err };
const RecordParams = Type.Object({ collection: CollectionName, id: RecordId });
const CollectionParams = Type.Object({ collection: CollectionName });
const IfMatchHeader = Type.Object({
  'if-match': Type.Optional(
    Type.String({
      description:
        '"*" or entity-tags exactly as given in ETag, e.g. "3.mww7j89t" (the version and the record\'s incarnation: a record deleted and created again never has its predecessor\'s tag); strong comparison (RFC 9110 §13.1.1). A bare version (3 or "3") is still accepted but never matches: 412 version_conflict.',
    }),
  ),
});
const security = [{ bearer: [] }];

/**
 * A view's ETag, from its version and its created_at: that is the row's, formatted with milliseconds
 * (formatRfc3339, exactly Date#toISOString), so it reads back to the incarnation's creation time exactly.
 */
const etagOfView = (view: RecordView) => etagOf({ version: view.version, createdAt: Date.parse(view.created_at) });
/** The view with its tag, which the ETag header repeats (computed once). */
const withEtag = (view: RecordView) => ({ ...view, etag: etagOfView(view) });

export function recordRoutes(app: FastifyInstance, enclave: Enclave): void {
  const { vault } = enclave;
  /** The record's revision as stored, for If-Match lists only: the vault decides and compares again. */
  const current = (collection: string, id: string) => async () => {
    const found = await enclave.router.findRecord(collection, id);
    return found && revisionOf(found.row);
  };

  app.post<{ Params: { collection: string }; Body: { id?: string; data: Record<string, unknown> } }>(
    '/v1/collections/:collection/records',
    {
      schema: {
        tags: ['records'],
        summary: 'Create a record at its subject\'s home site',
        description: 'The subject is named by the collection\'s subject field and must be registered. Protected fields are sealed under the subject\'s data key.',
        security,
        params: CollectionParams,
        body: CreateRecordBody,
        response: { 201: Rec, ...errors, 409: Err },
      },
    },
    async (request, reply) => {
      const view = await receipted(reply, () => vault.createRecord(principalOf(request), request.params.collection, request.body));
      const body = withEtag(view);
      return reply
        .status(201)
        .header('etag', body.etag)
        .header('location', `/v1/collections/${view.collection}/records/${encodeURIComponent(view.id)}`)
        .send(body);
    },
  );

  app.get<{ Params: { collection: string; id: string } }>(
    '/v1/collections/:collection/records/:id',
    {
      schema: {
        tags: ['records'],
        summary: 'Read a record; fields the principal may not see are withheld and listed',
        security,
        params: RecordParams,
        response: { 200: Rec, ...errors },
      },
    },
    async (request, reply) => {
      const view = await receipted(reply, () => vault.getRecord(principalOf(request), request.params.collection, request.params.id));
      nameGrants(reply, [view]);
      const body = withEtag(view);
      return reply.header('etag', body.etag).header('cache-control', 'no-store').send(body);
    },
  );

  app.put<{ Params: { collection: string; id: string }; Body: { data: Record<string, unknown> } }>(
    '/v1/collections/:collection/records/:id',
    {
      schema: {
        tags: ['records'],
        summary: 'Replace a record (optionally conditional on If-Match)',
        security,
        params: RecordParams,
        headers: IfMatchHeader,
        body: ReplaceRecordBody,
        response: { 200: Rec, ...errors, 412: Err },
      },
    },
    async (request, reply) => {
      const { collection, id } = request.params;
      const condition = parseIfMatch(request.headers['if-match']);
      const view = await receipted(reply, () =>
        ifMatching(condition, current(collection, id), (ifMatch) =>
          vault.replaceRecord(principalOf(request), collection, id, {
            data: request.body.data,
            ...(ifMatch === undefined ? {} : { ifMatch }),
          }),
        ),
      );
      const body = withEtag(view);
      return reply.header('etag', body.etag).send(body);
    },
  );

  app.delete<{ Params: { collection: string; id: string } }>(
    '/v1/collections/:collection/records/:id',
    {
      schema: {
        tags: ['records'],
        summary: 'Delete a record (optionally conditional on If-Match)',
        security,
        params: RecordParams,
        headers: IfMatchHeader,
        response: { 204: Type.Null(), ...errors, 412: Err },
      },
    },
    async (request, reply) => {
      const { collection, id } = request.params;
      const condition = parseIfMatch(request.headers['if-match']);
      await withReceipt(reply, () => ifMatching(condition, current(collection, id), (ifMatch) => vault.deleteRecord(principalOf(request), collection, id, ifMatch)));
      return reply.status(204).send();
    },
  );

  app.get<{ Params: { id: string }; Querystring: { collection?: string; limit?: string; cursor?: string } }>(
    '/v1/subjects/:id/records',
    {
      schema: {
        tags: ['subjects'],
        summary: 'List a subject\'s records, page by page',
        security,
        params: Type.Object({ id: SubjectId }),
        querystring: ListQuery,
        response: {
          200: Type.Object({ subject: Type.String(), records: Type.Array(Rec), next: Type.Union([Type.String(), Type.Null()]), log_index: LogIndex }),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const q = request.query;
      if (q.limit !== undefined && !/^(?:[1-9][0-9]{0,2}|1000)$/.test(q.limit)) {
        throw new EnclaveError('invalid_request', 'query.limit must be a whole number from 1 to 1000', { details: { field: 'limit' } });
      }
      const page = await receipted(reply, () =>
        vault.listSubjectRecords(principalOf(request), request.params.id, {
          ...(q.collection === undefined ? {} : { collection: q.collection }),
          ...(q.limit === undefined ? {} : { limit: Number(q.limit) }),
          ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
        }),
      );
      nameGrants(reply, page.records);
      // Each record with its tag, so that a conditional change needs no read of its own first.
      return reply.header('cache-control', 'no-store').send({ ...page, records: page.records.map(withEtag) });
    },
  );
}

/**
 * A read under a grant names it, in the body and in the `Enclave-Grant` header, flagged when it is
 * break-glass; a list read under several names each once, as a list (RFC 9110 §5.6.1).
 */
function nameGrants(reply: FastifyReply, views: readonly Pick<RecordView, 'grant'>[]): void {
  const names = new Set<string>();
  for (const { grant } of views) if (grant) names.add(grant.breakglass ? `${grant.id}; break-glass` : grant.id);
  if (names.size > 0) void reply.header('enclave-grant', [...names].join(', '));
}
