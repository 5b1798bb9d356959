// The HTTP adapter. Everything under /v1 needs a bearer token except the seal endpoints that the
// officers use before any token can be checked against a sealed store (as in Vault).
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Enclave } from '../services/enclave.ts';
import { EnclaveError } from '../core/errors.ts';
import { duplicateName } from '../core/json-duplicate-names.ts';
import { recordDataSchema } from '../core/record-model.ts';
import { authenticate } from './auth.ts';
import { refuseForeignCharset, refuseRepeatedContentType } from './content-type.ts';
import { clientErrors, frameworkErrors, installErrorHandling, ROUTER_OPTIONS, SERVER_OPTIONS } from './error-handler.ts';
import { installMetrics } from './metrics.ts';
import { accessRoutes } from './routes/access-routes.ts';
import { changeRoutes } from './routes/change-routes.ts';
import { certificateRoutes } from './routes/certificate-routes.ts';
import { logRoutes } from './routes/log-routes.ts';
import { recordRoutes } from './routes/record-routes.ts';
import { subjectRoutes } from './routes/subject-routes.ts';
import { systemRoutes } from './routes/system-routes.ts';
import { AccessRequestView, GrantView, ProposalView } from './gatekeeper-schemas.ts';
import { ErrorResponse, RecordView, SealStatus, SubjectView } from './schemas.ts';
import { httpsServerFactory } from './https-server.ts';
import type { TlsCredentials } from './tls-credentials.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without authentication. */
    public?: boolean;
  }
}

export interface ServerOptions {
  readonly logger?: FastifyServerOptions['logger'];
  /** Overrides server.max_body_bytes from the configuration. */
  readonly bodyLimit?: number;
  /** Serve HTTPS with these (tls-credentials.ts); plain HTTP without. */
  readonly tls?: TlsCredentials;
}

export const API_VERSION = '0.1.0';

export async function buildServer(enclave: Enclave, options: ServerOptions = {}): Promise<FastifyInstance> {
  const tls = options.tls;
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? enclave.config.server.maxBodyBytes,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Requests that arrive while the server drains (keep-alive, pipelined) get the API's own error
    // shape from the hook below, not Fastify's body without a code.
    return503OnClosing: false,
    frameworkErrors,
    clientErrorHandler: clientErrors,
    // Reject what does not match instead of silently stripping or coercing it.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true, useDefaults: false } },
    routerOptions: ROUTER_OPTIONS,
    http: SERVER_OPTIONS,
    ...(tls === undefined ? {} : { serverFactory: httpsServerFactory(tls) }),
  });
  // JSON only: without this, Fastify would accept text/plain bodies.
  app.removeContentTypeParser('text/plain');
  // Fastify's JSON parser (prototype poisoning refused), and a member name given twice in one object
  // refused too: JSON.parse keeps the last silently, while a proxy, a client library or an audit trail in
  // front may act on the first ({"user_id":"ann","user_id":"bob"} written for bob, checked as ann's).
  // Bytes that are not UTF-8 are refused too (RFC 8259 §8.1): decoded leniently they would become
  // U+FFFD, a value nobody sent, stored and acknowledged.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, raw, done) => {
    let body: string;
    try {
      body = typeof raw === 'string' ? raw : utf8.decode(raw);
    } catch {
      return done(new EnclaveError('invalid_json', 'the request body is not valid UTF-8; send JSON text in UTF-8'));
    }
    void parseJson(request, body, (err, value) => {
      if (err) return done(err);
      if (duplicateName(body) !== undefined) {
        return done(new EnclaveError('invalid_json', 'the request body gives one member name twice in one object; send each once'));
      }
      return done(null, value);
    });
  });
  app.decorateRequest('principal', null);
  installErrorHandling(app);
  const metrics = installMetrics(app, enclave);

  for (const schema of [ErrorResponse, RecordView, SubjectView, SealStatus, AccessRequestView, GrantView, ProposalView]) app.addSchema(schema);

  const collectionSchemas: Record<string, object> = {};
  for (const c of enclave.config.collections.values()) {
    collectionSchemas[`collection.${c.name}`] = { ...recordDataSchema(c), description: `Record data of "${c.name}"; protected: ${c.protectedFields.join(', ') || 'none'}` };
  }
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Enclave API',
        version: API_VERSION,
        description: `Sovereign data vault "${enclave.config.name}". Errors are {"error": {"code", "message"}}; codes are listed in docs/errors.md.`,
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token from `enclave init` (bootstrap) or an approved `enclave token create` proposal.' } },
        schemas: collectionSchemas as never,
      },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });

  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', async (request, reply) => {
    if (closing) {
      reply.header('connection', 'close');
      throw new EnclaveError('shutting_down', 'the server is shutting down and takes no new requests');
    }
    if (request.routeOptions.config.public === true || request.routeOptions.url === undefined) return;
    await authenticate(enclave.tokens, request, enclave.config.gatekeeper.purposes);
  });
  app.addHook('preParsing', (request, _reply, payload, done) => {
    try {
      refuseRepeatedContentType(request);
      refuseForeignCharset(request);
      done(null, payload);
    } catch (err) {
      done(err as Error);
    }
  });

  systemRoutes(app, enclave, metrics);
  subjectRoutes(app, enclave);
  recordRoutes(app, enclave);
  accessRoutes(app, enclave);
  changeRoutes(app, enclave);
  logRoutes(app, enclave);
  certificateRoutes(app, enclave);
  app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, () => app.swagger());
  await app.ready();
  // The server publishes the log: it runs the integrator (checkpoints at least every log interval).
  enclave.log.start((err, what) => app.log.error({ err }, `transparency log: ${what} failed; retrying`));
  // Grants and policies changed through other instances reach this one within a refresh interval.
  enclave.shared.start((err) => app.log.error({ err }, 'refreshing the grants and the policy version from the control store failed; retrying'));
  return app;
}
