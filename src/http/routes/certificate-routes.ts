// Deletion certificates over HTTP, public like the log's verifier key: a certificate holds counts,
// Merkle roots and the method of a purge, never a value or a subject id, and its point is that anyone
// can check it. GET /v1/certificates/vkey is the certificate key (C2SP signed-note vkey); GET
// /v1/certificates/{id} is the signed note; `enclave migrate certificate --file … --key …` verifies both.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { EnclaveError } from '../../core/errors.ts';
import type { MigrationStateStore } from '../../core/migration-state.ts';
import type { Enclave } from '../../services/enclave.ts';
import { publishedVerifierKey } from '../../services/migration/certificate-issuer.ts';
import { openMigrationStateOf } from '../../services/migration/open-migration.ts';

const Err = { $ref: 'Error#' };
const Text = Type.String({ description: 'text/plain; charset=utf-8' });

export function certificateRoutes(app: FastifyInstance, enclave: Enclave): void {
  // Opened on first use and closed with the server: most servers never serve a certificate.
  // One opening shared by concurrent first requests; a failed one is retried by the next request.
  let state: Promise<MigrationStateStore> | undefined;
  const openState = (): Promise<MigrationStateStore> => {
    state ??= openMigrationStateOf(enclave.config).catch((err: unknown) => {
      state = undefined;
      throw err;
    });
    return state;
  };
  app.addHook('onClose', async () => {
    await (await state?.catch(() => undefined))?.close();
  });

  app.get(
    '/v1/certificates/vkey',
    {
      config: { public: true },
      schema: { tags: ['certificates'], summary: 'The deletion-certificate verifier key (C2SP signed-note vkey), public', response: { 200: Text, 404: Err } },
    },
    async (_request, reply) => {
      const vkey = await publishedVerifierKey(enclave.control.meta);
      if (vkey === undefined) throw new EnclaveError('certificate_not_found', 'no deletion certificate was issued yet, so no certificate key is published');
      return reply.type('text/plain; charset=utf-8').header('cache-control', 'public, max-age=300').send(`${vkey}\n`);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/certificates/:id',
    {
      config: { public: true },
      schema: {
        tags: ['certificates'],
        summary: 'A deletion certificate: a signed note over its canonical JSON, public',
        params: Type.Object({ id: Type.String({ pattern: '^dc-[0-9a-f]{24}$' }) }),
        response: { 200: Text, 400: Err, 404: Err },
      },
    },
    async (request, reply) => {
      const c = await (await openState()).certificate(request.params.id);
      if (!c) throw new EnclaveError('certificate_not_found', `no deletion certificate "${request.params.id}"`);
      // Content-addressed: a certificate never changes.
      return reply.type('text/plain; charset=utf-8').header('cache-control', 'public, max-age=31536000, immutable').send(c.note);
    },
  );
}
