// The transparency log over HTTP (docs/transparency-log.md):
// - under /log, the C2SP tlog-tiles resources: the checkpoint, hash tiles, entry bundles, and the
//   verifier key (C2SP signed-note vkey format), so that any implementation of those specs can verify
//   the log from them alone;
// - under /v1/log, inclusion and consistency proofs, search, and the disclosure of the subject key.
// Every route but /log/vkey (a public key) needs a principal the decision point allows `log.read`,
// `log.search` or `log.disclose_key`; the parent company never is (core/config.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ID_PATTERN, RECORD_ID_PATTERN } from '../../core/api-ids.ts';
import type { Action } from '../../core/config-schema.ts';
import { EnclaveError } from '../../core/errors.ts';
import { forbidden } from '../../core/decision.ts';
import { LOG_EVENT_TYPES } from '../../core/event-log.ts';
import { parseRfc3339 } from '../../core/rfc3339.ts';
import { SUBJECT_HASH_PATTERN } from '../../core/log-entry.ts';
import { parseTilePath, TILE_WIDTH } from '../../core/tlog/tiles.ts';
import type { Enclave } from '../../services/enclave.ts';
import { acceptsGzip } from '../accept-encoding.ts';
import { principalOf } from '../auth.ts';
import { BundleCache, type Bundle } from '../bundle-cache.ts';
import { receipted } from '../log-receipt.ts';

const Err = { $ref: 'Error#' };
const security = [{ bearer: [] }];
const errors = { 400: Err, 401: Err, 403: Err, 404: Err, 503: Err };

// Full tiles and bundles never change (tlog-tiles: "immutable"); partial ones are replaced by wider ones
// and the checkpoint moves every second. `private`: these answers need a bearer token, so a shared cache
// must not hand them to others.
const IMMUTABLE = 'private, max-age=31536000, immutable';
const SHORT = 'private, max-age=5';
const CHECKPOINT = 'private, max-age=1';

const Decimal = (description: string) => Type.String({ pattern: '^(?:0|[1-9][0-9]{0,15})$', description });
const Time = (description: string) => Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(?:\\.\\d{1,9})?(?:Z|[+-]\\d{2}:\\d{2})$', description });
const Hashes = Type.Array(Type.String({ description: 'base64 SHA-256 hash' }), { description: 'RFC 9162 proof hashes, base64, leaf side first' });

export const LogEntrySchema = Type.Object(
  {
    v: Type.Literal(1),
    type: Type.String(),
    time: Type.String({ format: 'date-time' }),
    principal: Type.Union([Type.Object({ id: Type.String(), org: Type.String(), role: Type.String() }), Type.Null()]),
    subject: Type.Union([Type.String({ pattern: SUBJECT_HASH_PATTERN }), Type.Null()]),
    sealed: Type.Optional(Type.Boolean()),
    details: Type.Object({}, { additionalProperties: true }),
  },
  { $id: 'LogEntry', description: 'A transparency-log entry (its canonical JSON bytes are the Merkle leaf).' },
);

const SearchQuery = Type.Object(
  {
    from: Type.Optional(Time('entries at or after this RFC 3339 time')),
    to: Type.Optional(Time('entries before this RFC 3339 time')),
    principal: Type.Optional(Type.String({ pattern: ID_PATTERN, description: 'the acting principal id' })),
    type: Type.Optional(Type.Enum(LOG_EVENT_TYPES, { description: 'event type' })),
    subject: Type.Optional(Type.String({ pattern: RECORD_ID_PATTERN, description: 'a raw subject id, hashed by the server (needs the enclave unsealed)' })),
    subject_hash: Type.Optional(Type.String({ pattern: SUBJECT_HASH_PATTERN, description: 'a subject as its keyed hash (64 hex digits)' })),
    after: Type.Optional(Decimal('only entries after this index (the `next` of the previous page)')),
    limit: Type.Optional(Type.String({ pattern: '^(?:[1-9][0-9]{0,2}|1000)$', description: 'page size, 1 to 1000 (default 100)' })),
  },
  { additionalProperties: false },
);

function safeInteger(text: string | undefined, field: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new EnclaveError('invalid_request', `query.${field} is too large`, { details: { field } });
  return n;
}

function timeOf(text: string | undefined, field: string): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseRfc3339(text);
  if (ms === undefined) throw new EnclaveError('invalid_request', `query.${field} is not a valid RFC 3339 time (such as 2026-03-01T00:00:00Z)`, { details: { field } });
  return ms;
}

export function logRoutes(app: FastifyInstance, enclave: Enclave): void {
  const { log } = enclave;
  const bundles = new BundleCache();
  app.addSchema(LogEntrySchema);

  /** The decision point rules on log routes like on everything else; a denied search or key disclosure is logged. */
  async function authorize(request: FastifyRequest, action: Action): Promise<readonly string[]> {
    const principal = principalOf(request);
    const decision = await enclave.decisions.decide({ principal, action, now: new Date() });
    if (decision.allow) return decision.policies;
    if (action !== 'log.read') {
      await log.append({ type: 'access.decision', principal: { id: principal.id, org: principal.org, role: principal.role }, details: { action, allow: false, policies: [...decision.policies] } });
    }
    throw forbidden(decision, action);
  }

  /** Sends bytes; an entry bundle (`gzip` given) compressed when the client accepts it. */
  function sendBinary(request: FastifyRequest, reply: FastifyReply, data: Uint8Array, cache: string, gzip?: Bundle['gzip']): FastifyReply {
    void reply.type('application/octet-stream').header('cache-control', cache);
    // tlog-tiles: entry bundles SHOULD be compressed at the HTTP layer, when the client accepts it. Both
    // answers name what they depend on (RFC 9110 §12.5.5), so a cache never swaps one for the other.
    const compressed = gzip !== undefined && acceptsGzip(request.headers['accept-encoding']);
    if (gzip !== undefined) void reply.header('vary', 'accept-encoding');
    if (compressed) void reply.header('content-encoding', 'gzip');
    const body = compressed ? gzip() : data;
    return reply.send(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  }

  app.get(
    '/log/checkpoint',
    {
      schema: {
        tags: ['log'],
        summary: 'The latest checkpoint (C2SP tlog-checkpoint, a signed note with the witnesses\' cosignatures)',
        security,
        response: { 200: Type.String({ description: 'text/plain; charset=utf-8' }), ...errors },
      },
    },
    async (request, reply) => {
      await authorize(request, 'log.read');
      const cp = await log.checkpoint();
      if (!cp) throw new EnclaveError('not_found', 'the log has no checkpoint yet: it is signed within a second of the first unseal');
      return reply.type('text/plain; charset=utf-8').header('cache-control', CHECKPOINT).send(cp.text);
    },
  );

  app.get<{ Params: { '*': string } }>(
    '/log/tile/*',
    {
      schema: {
        tags: ['log'],
        summary: 'A hash tile (tile/<L>/<N>[.p/<W>]) or an entry bundle (tile/entries/<N>[.p/<W>]), per C2SP tlog-tiles',
        description: 'Within the latest checkpoint\'s tree; 404 beyond it. Full tiles and bundles are immutable.',
        security,
        params: Type.Object({ '*': Type.String({ maxLength: 128, description: 'the rest of the tile path, e.g. 0/x001/234.p/7 or entries/000' }) }),
        response: { 200: Type.String({ description: 'application/octet-stream' }), ...errors },
      },
    },
    async (request, reply) => {
      await authorize(request, 'log.read');
      const resource = parseTilePath(`tile/${request.params['*']}`);
      const cache = resource.width === TILE_WIDTH ? IMMUTABLE : SHORT;
      if (resource.kind === 'hashes') return sendBinary(request, reply, await log.tile(resource.level, resource.index, resource.width), cache);
      const { index, width } = resource;
      const bundle = width === TILE_WIDTH ? await bundles.full(index, () => log.entryBundle(index, width)) : BundleCache.once(await log.entryBundle(index, width));
      return sendBinary(request, reply, bundle.data, cache, bundle.gzip);
    },
  );

  app.get(
    '/log/vkey',
    {
      config: { public: true },
      schema: {
        tags: ['log'],
        summary: 'The log\'s verifier key (C2SP signed-note vkey: <name>+<key id>+<base64 key>), public',
        response: { 200: Type.String({ description: 'text/plain; charset=utf-8' }), 503: Err },
      },
    },
    async (_request, reply) => {
      const vkey = await log.vkey();
      if (vkey === undefined) throw new EnclaveError('sealed', 'the log\'s key is derived from the root key at the first unseal; unseal the enclave');
      return reply.type('text/plain; charset=utf-8').header('cache-control', SHORT).send(`${vkey}\n`);
    },
  );

  app.get<{ Querystring: { index: string; size?: string } }>(
    '/v1/log/proof/inclusion',
    {
      schema: {
        tags: ['log'],
        summary: 'Inclusion proof of an entry in a tree no larger than the latest checkpoint\'s (RFC 9162 §2.1.3)',
        security,
        querystring: Type.Object({ index: Decimal('the entry\'s index'), size: Type.Optional(Decimal('tree size (default: the latest checkpoint\'s)')) }, { additionalProperties: false }),
        response: {
          200: Type.Object({ index: Type.Integer(), size: Type.Integer(), leaf_hash: Type.String(), proof: Hashes, checkpoint: Type.String() }),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      await authorize(request, 'log.read');
      const size = safeInteger(request.query.size, 'size');
      const p = await log.inclusionProof(safeInteger(request.query.index, 'index') ?? 0, size);
      return reply.header('cache-control', 'no-store').send({ index: p.index, size: p.size, leaf_hash: p.leafHash, proof: p.proof, checkpoint: p.checkpoint });
    },
  );

  app.get<{ Querystring: { from: string; to?: string } }>(
    '/v1/log/proof/consistency',
    {
      schema: {
        tags: ['log'],
        summary: 'Consistency proof between two tree sizes, the larger no larger than the latest checkpoint\'s (RFC 9162 §2.1.4)',
        security,
        querystring: Type.Object({ from: Decimal('the older tree size'), to: Type.Optional(Decimal('the newer tree size (default: the latest checkpoint\'s)')) }, { additionalProperties: false }),
        response: { 200: Type.Object({ from: Type.Integer(), to: Type.Integer(), proof: Hashes, checkpoint: Type.String() }), ...errors },
      },
    },
    async (request, reply) => {
      await authorize(request, 'log.read');
      const p = await log.consistencyProof(safeInteger(request.query.from, 'from') ?? 0, safeInteger(request.query.to, 'to'));
      return reply.header('cache-control', 'no-store').send(p);
    },
  );

  app.get<{ Querystring: { from?: string; to?: string; principal?: string; type?: string; subject?: string; subject_hash?: string; after?: string; limit?: string } }>(
    '/v1/log/search',
    {
      schema: {
        tags: ['log'],
        summary: 'Search the log by time, principal, event type and subject; each result with its inclusion proof',
        description:
          'Searches entries within the latest checkpoint. A subject is given as its raw id (hashed by the server, which must be unsealed) or as its keyed hash. The search itself is logged (access.decision, action log.search).',
        security,
        querystring: SearchQuery,
        response: {
          200: Type.Object({
            checkpoint: Type.Union([Type.String(), Type.Null()], { description: 'the checkpoint the proofs are against' }),
            size: Type.Integer(),
            results: Type.Array(Type.Object({ index: Type.Integer(), entry: { $ref: 'LogEntry#' }, proof: Hashes })),
            next: Type.Union([Type.Integer(), Type.Null()], { description: 'pass as `after` for the next page' }),
            log_index: Type.Optional(Type.Integer()),
          }),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const q = request.query;
      if (q.subject !== undefined && q.subject_hash !== undefined) {
        throw new EnclaveError('invalid_request', 'give the subject either as subject or as subject_hash, not both', { details: { field: 'subject' } });
      }
      const from = timeOf(q.from, 'from');
      const to = timeOf(q.to, 'to');
      const query = {
        ...(from === undefined ? {} : { from }),
        ...(to === undefined ? {} : { to }),
        ...(q.principal === undefined ? {} : { principal: q.principal }),
        ...(q.type === undefined ? {} : { type: q.type }),
        ...(q.subject === undefined ? {} : { subject: q.subject }),
        ...(q.subject_hash === undefined ? {} : { subjectHash: q.subject_hash }),
        ...(q.after === undefined ? {} : { after: safeInteger(q.after, 'after') ?? 0 }),
        limit: q.limit === undefined ? 100 : Number(q.limit),
      };
      const page = await receipted(reply, async () => {
        const policies = await authorize(request, 'log.search');
        const principal = principalOf(request);
        const filters = Object.keys(q).sort();
        // The search itself is logged before any result leaves (whose log was searched for whom).
        await log.append({
          type: 'access.decision',
          principal: { id: principal.id, org: principal.org, role: principal.role },
          ...(q.subject === undefined ? {} : { subject: q.subject }),
          details: { action: 'log.search', allow: true, policies: [...policies], filters, ...(q.subject_hash === undefined ? {} : { subject_hash: q.subject_hash }) },
        });
        return log.search(query);
      });
      return reply.header('cache-control', 'no-store').send(page);
    },
  );

  app.post<{ Body: { recipient: string; reason: string } }>(
    '/v1/log/subject-key',
    {
      schema: {
        tags: ['log'],
        summary: 'Disclose the log subject key, so that a regulator can link entries to subjects (HMAC-SHA256 of the subject id)',
        description: 'Needs the enclave unsealed (the key is derived from the root key). The disclosure is logged (key.disclosed) before the key is returned.',
        security,
        body: Type.Object(
          {
            recipient: Type.String({ pattern: ID_PATTERN, description: 'who receives the key, e.g. the regulator org' }),
            reason: Type.String({ minLength: 10, maxLength: 500, description: 'why (recorded in the log verbatim: no personal data)' }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ algorithm: Type.Literal('HMAC-SHA256'), key: Type.String({ description: 'hex' }), log_index: Type.Optional(Type.Integer()) }),
          ...errors,
          409: Err,
          413: Err,
          415: Err,
        },
      },
    },
    async (request, reply) => {
      const out = await receipted(reply, async () => {
        const policies = await authorize(request, 'log.disclose_key');
        // The reason goes into the entry verbatim, and a canonical JSON entry holds only well-formed text:
        // refused here as the caller's mistake, not as an entry the log could not encode.
        if (!request.body.reason.isWellFormed()) throw new EnclaveError('invalid_request', 'reason is not well-formed Unicode (it holds a lone UTF-16 surrogate)', { details: { field: 'reason' } });
        const key = log.subjectKey();
        const principal = principalOf(request);
        await log.append({
          type: 'key.disclosed',
          principal: { id: principal.id, org: principal.org, role: principal.role },
          details: { key: 'log-subject', recipient: request.body.recipient, reason: request.body.reason, policies: [...policies] },
        });
        return { algorithm: 'HMAC-SHA256' as const, key };
      });
      return reply.header('cache-control', 'no-store').send(out);
    },
  );
}
