// Runs the HTTP API for `serve` and `demo`: listen, report the bound address, stop cleanly on SIGINT or
// SIGTERM (a second signal exits at once). Requests are logged by Fastify's pino logger: method, URL,
// status and timing, never headers or bodies.
import { createServer, type AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../http/server.ts';
import { httpsListenText, replaceCertificate } from '../http/https-server.ts';
import type { TlsCredentials } from '../http/tls-credentials.ts';
import type { Enclave } from '../services/enclave.ts';
import { CliError } from './fail.ts';
import { connectHost, type LogLevel } from './options.ts';

export interface RunningServer {
  readonly app: FastifyInstance;
  /** Where clients reach it, e.g. http://127.0.0.1:8700 (the real port when 0 was asked for). */
  readonly url: string;
  /** The wildcard address it listens on (0.0.0.0, ::): every interface, so other machines reach it too; else undefined. */
  readonly everyInterface: string | undefined;
  /** Whether it serves HTTPS (server.tls). */
  readonly tls: boolean;
  /** Presents these from the next handshake on (a renewed certificate); connections open stay as they are. */
  replaceTls(credentials: TlsCredentials): void;
  close(): Promise<void>;
}

export async function startServer(enclave: Enclave, options: { host: string; port: number; logLevel: LogLevel; tls?: TlsCredentials }): Promise<RunningServer> {
  const app = await buildServer(enclave, {
    logger: { level: options.logLevel, redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' } },
    ...(options.tls === undefined ? {} : { tls: options.tls }),
  });
  try {
    await app.listen({
      host: options.host,
      port: options.port,
      ...(options.tls === undefined ? {} : { listenTextResolver: httpsListenText }),
    });
  } catch (err) {
    await app.close();
    throw listenError(options.host, options.port, err);
  }
  const address = app.server.address() as AddressInfo;
  return {
    app,
    url: `${options.tls === undefined ? 'http' : 'https'}://${connectHost(options.host)}:${address.port}`,
    // The address bound, not the host asked for: '', '0' or '0:0::0' are the wildcard too.
    everyInterface: address.address === '0.0.0.0' || address.address === '::' ? address.address : undefined,
    tls: options.tls !== undefined,
    replaceTls(credentials) {
      if (options.tls === undefined) throw new Error('this server serves plain HTTP; TLS cannot be turned on in place');
      replaceCertificate(app.server, credentials);
    },
    close: () => app.close(),
  };
}

/** The one warning line for a server that listens on every interface, undefined if it does not. */
export function exposureWarning(server: RunningServer): string | undefined {
  if (server.everyInterface === undefined) return undefined;
  const clear = server.tls ? '' : ', and in clear (no server.tls): bearer tokens and unseal shares cross the network readable';
  return `Warning: listening on every network interface (${server.everyInterface}): the API is reachable from other machines, not only this one${clear}; set server.host or --host to 127.0.0.1 (or one interface's address) unless that is intended`;
}

function listenError(host: string, port: number, err: unknown): CliError {
  const code = (err as NodeJS.ErrnoException).code;
  const why = code === 'EADDRINUSE' ? 'the address is in use (pass another --port)' : code === 'EACCES' ? 'permission denied (pick a port above 1023)' : code ?? (err as Error).message;
  return new CliError('listen_failed', `cannot listen on ${host}:${port}: ${why}`, { cause: err });
}

/** Fails early, before long work, if the address cannot be listened on now. */
export async function checkListenable(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen({ host, port }, resolve);
    });
  } catch (err) {
    throw listenError(host, port, err);
  }
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}

/** Resolves on the first SIGINT or SIGTERM; a second one during shutdown exits immediately. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const handler = (signal: NodeJS.Signals) => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
      const force = () => process.exit(130);
      process.once('SIGINT', force);
      process.once('SIGTERM', force);
      resolve(signal);
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
}
