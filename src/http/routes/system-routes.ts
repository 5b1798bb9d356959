import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { Type } from 'typebox';
import { EnclaveError } from '../../core/errors.ts';
import { forbidden } from '../../core/decision.ts';
import type { Enclave } from '../../services/enclave.ts';
import { principalOf } from '../auth.ts';
import { withReceipt } from '../log-receipt.ts';
import { UnsealBody } from '../schemas.ts';

const Err = { $ref: 'Error#' };
const Seal = { $ref: 'SealStatus#' };

export function systemRoutes(app: FastifyInstance, enclave: Enclave, metrics: Registry): void {
  app.get(
    '/healthz',
    {
      config: { public: true },
      schema: {
        tags: ['system'],
        summary: 'Liveness; reports whether the enclave is sealed, this instance\'s name, and which instance is the log\'s sequencer',
        response: {
          200: Type.Object({
            status: Type.Literal('ok'),
            sealed: Type.Boolean(),
            name: Type.String(),
            instance: Type.String({ description: 'this instance (serve --instance)' }),
            sequencer: Type.Boolean({ description: 'whether this instance integrates and signs the transparency log' }),
            log_sequencer: Type.Union([
              Type.Object({
                instance: Type.String({ description: 'the instance that holds (or last held) the sequencer lease' }),
                held: Type.Boolean({ description: 'false: it let the lease go or died, and no instance has taken it yet' }),
                heartbeat_age_seconds: Type.Number(),
              }),
              Type.Null(),
            ]),
          }),
        },
      },
    },
    async () => {
      // Liveness must answer even when the log store does not: the sequencer is then unknown (null).
      const lease = await enclave.log.sequencer().catch(() => undefined);
      return {
        status: 'ok' as const,
        sealed: enclave.keyring.sealed,
        name: enclave.config.name,
        instance: enclave.log.instance,
        sequencer: enclave.log.isSequencer,
        log_sequencer: lease ? { instance: lease.instance, held: lease.held, heartbeat_age_seconds: lease.heartbeatAgeMs / 1000 } : null,
      };
    },
  );

  app.get('/metrics', { config: { public: true }, schema: { tags: ['system'], summary: 'Prometheus metrics', hide: false } }, async (_request, reply) => {
    const text = await metrics.metrics();
    return reply.type(metrics.contentType).send(text);
  });

  app.get(
    '/v1/sys/seal-status',
    { config: { public: true }, schema: { tags: ['system'], summary: 'Seal status and unseal progress', response: { 200: Seal } } },
    () => enclave.seal.currentStatus(),
  );

  app.post<{ Body: { share?: string; reset?: boolean } }>(
    '/v1/sys/unseal',
    {
      config: { public: true },
      schema: {
        tags: ['system'],
        summary: 'Enter one officer\'s unseal share; the enclave unseals when the threshold is reached',
        body: UnsealBody,
        response: { 200: Seal, 400: Err, 409: Err, 413: Err, 415: Err, 503: Err },
      },
    },
    async (request, reply) => {
      if (request.body.reset === true) {
        enclave.seal.reset();
        return enclave.seal.status();
      }
      const share = request.body.share;
      if (share === undefined) throw new EnclaveError('invalid_request', 'send {"share": "enclave-share-v1-…"} or {"reset": true}');
      return (await withReceipt(reply, () => enclave.seal.submit(share))).value;
    },
  );

  app.post(
    '/v1/sys/seal',
    {
      schema: { tags: ['system'], summary: 'Seal the enclave now: drop every key from memory', security: [{ bearer: [] }], response: { 200: Seal, 401: Err, 403: Err, 503: Err } },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const decision = await enclave.decisions.decide({ principal, action: 'enclave.seal', now: new Date() });
      if (!decision.allow) throw forbidden(decision, 'enclave.seal');
      return (await withReceipt(reply, () => enclave.seal.sealLogged(principal))).value;
    },
  );

  app.get(
    '/v1/whoami',
    {
      schema: {
        tags: ['system'],
        summary: 'The principal this token authenticates',
        security: [{ bearer: [] }],
        response: { 200: Type.Object({ principal: Type.String(), org: Type.String(), org_kind: Type.String(), role: Type.String(), token: Type.String() }), 401: Err },
      },
    },
    (request) => {
      const p = principalOf(request);
      return { principal: p.id, org: p.org, org_kind: p.orgKind, role: p.role, token: p.tokenId };
    },
  );

  app.get(
    '/v1/collections',
    {
      schema: {
        tags: ['records'],
        summary: 'Collections and the classification of their fields',
        security: [{ bearer: [] }],
        response: {
          200: Type.Object({
            collections: Type.Array(
              Type.Object({ name: Type.String(), subject: Type.String(), protected: Type.Array(Type.String()), public: Type.Array(Type.String()) }),
            ),
          }),
          401: Err,
        },
      },
    },
    () => ({
      collections: [...enclave.config.collections.values()].map((c) => ({ name: c.name, subject: c.subjectField, protected: [...c.protectedFields], public: [...c.publicFields] })),
    }),
  );
}
