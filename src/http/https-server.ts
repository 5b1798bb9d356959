// An HTTPS listener for a Fastify app (the API's, a witness's), made by us rather than by Fastify's own
// `https` option: its certificate can then be replaced in place on SIGHUP (setSecureContext), and
// Fastify opens no second server for a name such as 'localhost' that a reload could not reach.
import type { RequestListener, Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as TlsServer } from 'node:tls';
import type { TlsCredentials } from './tls-credentials.ts';

/** What Fastify passes a serverFactory: its options, defaults applied. */
type FastifySettings = Readonly<Record<string, unknown>>;

/**
 * Fastify's serverFactory for HTTPS with `tls`. The server gets the settings Fastify gives a server of
 * its own making (lib/server.js) and leaves to a serverFactory: without them it would close idle
 * keep-alive connections after Node's 5 s instead of Fastify's 72 s (a balancer in front, whose idle
 * limit is longer, then meets closed connections) and end any request after 300 s, both unlike a
 * plain-HTTP listener. An https.Server is no http.Server to the types; Fastify serves either.
 */
export function httpsServerFactory(tls: TlsCredentials): (handler: RequestListener, settings: FastifySettings) => HttpServer {
  return (handler, settings) => {
    // Fastify's `http` option (error-handler.ts SERVER_OPTIONS), which it too leaves to a serverFactory.
    const server = createHttpsServer({ ...(settings.http as object | undefined), ...tls.options }, handler);
    presented.set(server, tls.leaf);
    server.keepAliveTimeout = settings.keepAliveTimeout as number;
    server.requestTimeout = settings.requestTimeout as number;
    server.setTimeout(settings.connectionTimeout as number);
    // Zero is Node's default (no limit), as Fastify treats it.
    if ((settings.maxRequestsPerSocket as number) > 0) server.maxRequestsPerSocket = settings.maxRequestsPerSocket as number;
    return server;
  };
}

/** Presents `credentials` from the next handshake on (connections open stay as they are). */
export function replaceCertificate(server: HttpServer, credentials: TlsCredentials): void {
  (server as unknown as TlsServer).setSecureContext(credentials.options);
  presented.set(server, credentials.leaf);
}

/** The certificate a server made here presents now (its chain's first); undefined for a plain-HTTP one. */
export function presentedCertificate(server: object): TlsCredentials['leaf'] | undefined {
  return presented.get(server);
}

const presented = new WeakMap<object, TlsCredentials['leaf']>();

/**
 * Fastify's listen line for a server made here: Fastify names the scheme from its own `https` option,
 * which a serverFactory leaves unset, and would log http:// for an HTTPS listener.
 */
export function httpsListenText(address: string): string {
  return `Server listening at ${address.replace(/^http:/, 'https:')}`;
}
