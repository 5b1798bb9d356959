// The witness's HTTP interface, C2SP tlog-witness: `POST /add-checkpoint` with the text body "old <size>",
// the consistency proof lines, a blank line and the signed checkpoint; 200 with the cosignature lines,
// or the spec's status: 409 with `text/x.tlog.size` and the witness's size when the old size is stale.
// Other errors carry the usual `{"error": {code, message}}` body. No authentication: the checkpoint's
// signature is what is checked (tlog-witness, "there is no authentication of requests").
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { EnclaveError, isEnclaveError } from '../core/errors.ts';
import { MAX_ADD_CHECKPOINT_SIZE } from '../core/tlog/witness-protocol.ts';
import type { WitnessService } from '../services/witness-service.ts';
import { clientErrors, frameworkErrors, installErrorHandling, ROUTER_OPTIONS, SERVER_OPTIONS } from './error-handler.ts';
import { httpsServerFactory } from './https-server.ts';
import type { TlsCredentials } from './tls-credentials.ts';

export interface WitnessServerOptions {
  readonly logger?: FastifyServerOptions['logger'];
  /** Serve HTTPS with these (tls-credentials.ts); plain HTTP without. */
  readonly tls?: TlsCredentials;
}

export async function buildWitnessServer(witness: WitnessService, options: WitnessServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: MAX_ADD_CHECKPOINT_SIZE,
    return503OnClosing: true,
    frameworkErrors,
    clientErrorHandler: clientErrors,
    routerOptions: ROUTER_OPTIONS,
    http: SERVER_OPTIONS,
    ...(options.tls === undefined ? {} : { serverFactory: httpsServerFactory(options.tls) }),
  });
  // The body is text of the spec's own format, whatever Content-Type the client sends (the spec names none).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  installErrorHandling(app);

  // The witness has no configuration file: a body over its fixed limit is refused with that limit, not with
  // the enclave server's advice to raise server.max_body_bytes, which the witness does not read. (An error
  // thrown here goes on to the server's handler.)
  const errorHandler = (err: unknown): never => {
    const tooLarge = typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'FST_ERR_CTP_BODY_TOO_LARGE';
    throw tooLarge ? new EnclaveError('payload_too_large', `an add-checkpoint body is at most ${MAX_ADD_CHECKPOINT_SIZE} bytes`) : err;
  };

  app.post('/add-checkpoint', { errorHandler }, async (request, reply) => {
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    try {
      const lines = await witness.addCheckpoint(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
      return await reply.type('text/plain; charset=utf-8').send(lines);
    } catch (err) {
      if (isEnclaveError(err, 'log_size_conflict') && typeof err.details?.['size'] === 'number') {
        return reply.status(409).type('text/x.tlog.size').send(`${err.details['size']}\n`);
      }
      throw err;
    }
  });
  // Who this witness is, for operators configuring a log: its name and verifier key.
  app.get('/', () => ({ name: witness.name, vkey: witness.vkey, logs: witness.origins() }));
  await app.ready();
  return app;
}
