// Turns every failure into `{ "error": { "code", "message", "details"? } }` with the status of
// error-status.ts. Fastify's own errors (bad JSON, body too large, schema validation) are translated to
// our codes; anything unexpected is logged server-side and answered as `internal` without its message.
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import FindMyWay from 'find-my-way';
import { EnclaveError, ERROR_CODES, type ErrorCode } from '../core/errors.ts';
import { describeErrors } from '../core/schema-validator.ts';
import { ERROR_STATUS } from './error-status.ts';
import { countUnrouted } from './metrics.ts';

export interface ErrorBody {
  readonly error: { readonly code: ErrorCode; readonly message: string; readonly details?: Record<string, unknown> };
}

// Fastify's parser reports a syntax error and a prototype-poisoning key alike, so the message names both.
function invalidJson(): EnclaveError {
  return new EnclaveError('invalid_json', 'the request body is not valid JSON, or it holds a "__proto__" or "constructor.prototype" key, which are refused');
}

function fromFastify(err: FastifyError): EnclaveError | undefined {
  if (err.validation) {
    const issues = describeErrors(err.validation as never).map((i) => {
      const where = err.validationContext === 'querystring' ? 'query' : err.validationContext === 'params' ? 'path' : 'body';
      return `${where}${i.path === '(root)' ? '' : `.${i.path}`} ${i.message}`;
    });
    return new EnclaveError('invalid_request', issues.join('; ') || 'the request does not match the expected shape', { details: { problems: issues } });
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new EnclaveError('payload_too_large', 'the request body exceeds the configured limit (server.max_body_bytes)');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new EnclaveError('unsupported_media_type', 'send the body as application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new EnclaveError('invalid_json', 'the body is empty but Content-Type says application/json');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return invalidJson();
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new EnclaveError('invalid_request', 'Content-Length does not match the body');
    default:
      break;
  }
  // JSON syntax errors and prototype-poisoning attempts from the body parser.
  if (err instanceof SyntaxError || (err.statusCode === 400 && /prototype|JSON/i.test(err.message))) return invalidJson();
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
    return new EnclaveError('invalid_request', 'the request could not be processed as sent');
  }
  return undefined;
}

export function toEnclaveError(err: unknown): EnclaveError {
  if (err instanceof EnclaveError) return err;
  return fromFastify(err as FastifyError) ?? new EnclaveError('internal', ERROR_CODES.internal, { cause: err });
}

export function sendError(reply: FastifyReply, err: EnclaveError): FastifyReply {
  const status = ERROR_STATUS[err.code];
  if (err.code === 'unauthenticated') void reply.header('www-authenticate', 'Bearer realm="enclave"');
  return reply.status(status).type(JSON_TYPE).send(errorBody(err));
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** The API's error body for `err` (the same in every answer, errors.md). */
function errorBody(err: EnclaveError): ErrorBody {
  return { error: { code: err.code, message: err.message, ...(err.details ? { details: { ...err.details } } : {}) } };
}

/** Errors the router raises before any route runs (Fastify's `frameworkErrors` option); no hook sees them. */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const e =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new EnclaveError('uri_too_long', 'a path parameter is longer than the server accepts')
      : new EnclaveError('invalid_request', 'the URL could not be decoded');
  countUnrouted(request.server, request.method, ERROR_STATUS[e.code]);
  void sendError(reply, e);
}

/**
 * Node's parser accepts an HTTP/1.1 request without Host and keeps the first of several, which RFC 9112
 * §3.2 says to refuse with 400: a proxy in front may have routed it by another one. `requireHostHeader`
 * is off (SERVER_OPTIONS) so that a missing one is refused here, in the API's error shape.
 */
function refuseBadHost(request: FastifyRequest): void {
  const raw = request.raw.rawHeaders;
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name?.length === 4 && name.toLowerCase() === 'host' && ++seen > 1) throw badHost('send one Host header, not several');
  }
  const host = request.headers.host;
  if (host === undefined) {
    if (request.raw.httpVersionMajor === 1 && request.raw.httpVersionMinor === 0) return;
    throw badHost('an HTTP/1.1 request must carry a Host header (RFC 9112 §3.2)');
  }
  if (!HOST.test(host)) throw badHost('the Host header is not a host with an optional port (RFC 9110 §7.2)');
}

// uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2.2): an IP literal in brackets or a reg-name, which may be empty.
const HOST = /^(?:\[[0-9A-Za-z.:]+\]|[0-9A-Za-z\-._~%!$&'()*+,;=]*)(?::[0-9]*)?$/;

function badHost(message: string): EnclaveError {
  return new EnclaveError('invalid_request', message, { details: { field: 'Host' } });
}

/** Options of every HTTP server here (Fastify's `http`, and httpsServerFactory's). */
export const SERVER_OPTIONS = { requireHostHeader: false } as const;

/**
 * Requests Node's HTTP parser refuses before any request exists (Fastify's `clientErrorHandler`): a
 * malformed request line or header, Content-Length with Transfer-Encoding, a bad chunk, header fields too
 * large, a request that never arrived whole. Answered in the API's error shape like every other failure:
 * Fastify's default body has no code, which clients (the CLI) cannot tell from a foreign server's.
 */
export function clientErrors(this: FastifyInstance, err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  // Node's own statuses for these (RFC 6585 §5, RFC 9110 §15.5.9).
  const e =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new EnclaveError('headers_too_large', 'the request line and header fields are larger than the server accepts')
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new EnclaveError('request_timeout', 'the request did not arrive whole in time')
        : new EnclaveError('invalid_request', 'the request is not well-formed HTTP/1.1 (its request line, a header field or its body framing)');
  this.log.debug({ err }, 'refused a malformed request');
  countUnrouted(this, undefined, ERROR_STATUS[e.code]);
  if (socket.writable) {
    const status = ERROR_STATUS[e.code];
    const body = JSON.stringify(errorBody(e));
    // The connection cannot be reused: where the next request would start is unknown.
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${JSON_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

/**
 * An Expect other than 100-continue (Node's 'checkExpectation'; RFC 9110 §10.1.1): 417 in the API's error
 * shape, where Node's own answer has no body. The request is not served, so its body is not read; the
 * connection closes rather than parse that body as the next request.
 */
function refuseExpectation(app: FastifyInstance, request: IncomingMessage, response: ServerResponse): void {
  const e = new EnclaveError('expectation_failed', 'the server meets no expectation but 100-continue; send the request without this Expect header');
  countUnrouted(app, request.method, ERROR_STATUS[e.code]);
  const body = JSON.stringify(errorBody(e));
  response.writeHead(ERROR_STATUS[e.code], { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body), connection: 'close' }).end(body);
}

/** The router options of every server here: the 405 lookup below must match paths exactly as Fastify does. */
export const ROUTER_OPTIONS = { ignoreTrailingSlash: false, maxParamLength: 200 } as const;
/** The methods an Allow header may list. */
const ROUTE_METHODS: readonly FindMyWay.HTTPMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** Every server's error shape, and the request checks Node leaves to it (Host, Expect). */
export function installErrorHandling(app: FastifyInstance): void {
  app.server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => refuseExpectation(app, request, response));
  app.addHook('onRequest', (request, _reply, done) => {
    try {
      refuseBadHost(request);
      done();
    } catch (err) {
      done(err as Error);
    }
  });
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const e = toEnclaveError(err);
    if (e.code === 'sealed' || e.code === 'not_initialized') {
      // A state the operators know of, not a failure: no stack.
      request.log.info({ code: e.code }, e.message);
    } else if (ERROR_STATUS[e.code] >= 500) {
      // Server-side detail for operators (the underlying error's stack, if any); the client gets the code
      // and the message only, and for `internal` a fixed one.
      request.log.error({ code: e.code, ...(e.cause === undefined ? {} : { err: e.cause }) }, e.message);
      // An unexpected error's message may carry anything; send only the fixed text.
      if (e.code === 'internal') return sendError(reply, new EnclaveError('internal'));
    }
    return sendError(reply, e);
  });
  // A path served with other methods is 405 with an Allow header (RFC 9110 §15.5.6), not 404: the
  // routes are mirrored into a router of their own, since Fastify only looks up one method at a time.
  const routes = FindMyWay(ROUTER_OPTIONS);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.on(method as FindMyWay.HTTPMethod, route.url, () => undefined);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allow = ROUTE_METHODS.filter((m) => routes.find(m, path) !== null);
    if (allow.length === 0) return sendError(reply, new EnclaveError('not_found', `no route ${request.method} ${path}`));
    void reply.header('allow', allow.join(', '));
    return sendError(reply, new EnclaveError('method_not_allowed', `${path} does not accept ${request.method}; it accepts ${allow.join(', ')}`));
  });
}
