// The TLS side of the requests this process makes (the CLI's to the API, a log or a witness; `serve`'s to
// its witnesses): CA certificates trusted besides the system's (--ca-file, ENCLAVE_CA_FILE) and a client
// certificate (--client-cert, --client-key) for a server that requires one (server.tls.client_ca_file).
// Node's fetch sends every request through the process's global dispatcher: an undici Agent with these
// as its connect options takes its place. Verification is never turned off.
import { createPrivateKey } from 'node:crypto';
import { getCACertificates, type ConnectionOptions } from 'node:tls';
import { Agent, EnvHttpProxyAgent, getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from 'undici';
import { PemCertificateError, pemCertificates } from '../crypto/pem-certificates.ts';
import { usageError } from './fail.ts';
import { readBoundedText } from './output-files.ts';

/** A CA bundle is some hundreds of KiB at most; a certificate chain or a key a few KiB. */
const MAX_PEM_BYTES = 4 * 1024 * 1024;

export interface TlsClientOptions {
  readonly caFile?: string | undefined;
  readonly clientCert?: string | undefined;
  readonly clientKey?: string | undefined;
}

/** The dispatcher fetch had before the first one set here, put back when the options are withdrawn. */
let original: Dispatcher | undefined;
/** The connect options requests are made with now; undefined for the defaults. */
let active: ConnectionOptions | undefined;

/** Whether requests trust CA certificates of --ca-file now (for the hint when a server's is not trusted). */
export function trustsExtraCas(): boolean {
  return active?.ca !== undefined;
}

/** Whether requests present a client certificate now (for the hint when a server closes the connection). */
export function presentsClientCertificate(): boolean {
  return active?.cert !== undefined;
}

/**
 * Makes this process's requests trust `caFile` and present the client certificate from now on; with none
 * of them, or with options refused (thrown), the defaults (again). A dispatcher replaced is closed, its
 * pooled connections with it, so no connection verified under the options before is used under the new
 * ones (runCli in tests runs one command after another in one process).
 */
export function configureTlsClient(options: TlsClientOptions): void {
  // Set only once every option checked out: refused options leave nothing of an earlier run's behind.
  let connect: ConnectionOptions | undefined;
  try {
    const caFile = given(options.caFile);
    const certFile = given(options.clientCert);
    const keyFile = given(options.clientKey);
    if ((certFile === undefined) !== (keyFile === undefined)) throw usageError('--client-cert and --client-key (or ENCLAVE_CLIENT_CERT and ENCLAVE_CLIENT_KEY) go together: give both, or neither');
    const extra = caFile === undefined ? undefined : certificatesOf('--ca-file (or ENCLAVE_CA_FILE)', caFile).map((c) => c.pem);
    const client = certFile === undefined || keyFile === undefined ? undefined : clientPair(certFile, keyFile);
    // `ca` replaces the default list in tls.connect: the defaults go along (RFC 5280 path building from either).
    if (extra !== undefined || client !== undefined) connect = { ...(extra === undefined ? {} : { ca: [...getCACertificates('default'), ...extra] }), ...(client ?? {}) };
  } finally {
    active = connect;
    if (connect === undefined) {
      if (original !== undefined) replace(original);
      original = undefined;
    } else {
      original ??= getGlobalDispatcher();
      replace(dispatcherFor(connect, original));
    }
  }
}

/**
 * An Agent with `connect` for every connection; through a proxy when the one fetch had goes through one
 * (Node's --use-env-proxy or NODE_USE_ENV_PROXY=1 with HTTP_PROXY, HTTPS_PROXY, NO_PROXY): a plain Agent
 * there would connect directly, around the proxy. Through it, `connect` is for the TLS connection to the
 * server inside the tunnel (requestTls); the proxy's own TLS keeps the defaults and gets no client certificate.
 */
function dispatcherFor(connect: ConnectionOptions, before: Dispatcher): Dispatcher {
  if (before.constructor.name === 'EnvHttpProxyAgent') return new EnvHttpProxyAgent({ connect, requestTls: connect });
  return new Agent({ connect });
}

function replace(next: Dispatcher): void {
  const before = getGlobalDispatcher();
  if (before === next) return;
  setGlobalDispatcher(next);
  if (before !== original) before.close().catch(() => undefined);
}

function given(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function readPem(what: string, path: string): string {
  return readBoundedText(path, MAX_PEM_BYTES, { unreadable: (code) => `${what} ${path} cannot be read: ${code}`, tooLarge: `${what} ${path} is larger than 4 MiB; is it a PEM file?` });
}

function certificatesOf(what: string, path: string): ReturnType<typeof pemCertificates> {
  try {
    return pemCertificates(readPem(what, path));
  } catch (err) {
    if (!(err instanceof PemCertificateError)) throw err;
    throw usageError(`${what} ${path} ${err.message}`);
  }
}

/** The client's certificate chain and its key, checked to belong together before any connection. */
function clientPair(certFile: string, keyFile: string): { cert: string; key: string } {
  const chain = certificatesOf('--client-cert (or ENCLAVE_CLIENT_CERT)', certFile);
  const key = readPem('--client-key (or ENCLAVE_CLIENT_KEY)', keyFile);
  let matches: boolean;
  try {
    matches = chain[0]?.certificate.checkPrivateKey(createPrivateKey(key)) === true;
  } catch {
    throw usageError(`--client-key (or ENCLAVE_CLIENT_KEY) ${keyFile} holds no unencrypted PEM private key`);
  }
  if (!matches) throw usageError(`--client-key (or ENCLAVE_CLIENT_KEY) ${keyFile} is not the private key of the certificate in ${certFile}`);
  return { cert: chain.map((c) => c.pem).join('\n'), key };
}
