// The TLS side of the requests this process makes: the CLI's to the API, a log or a witness, with the CA
// certificates trusted besides the system's (--ca-file, ENCLAVE_CA_FILE) and a client certificate
// (--client-cert, --client-key) for a server that requires one (server.tls.client_ca_file); and `serve`'s
// to its witnesses, with the CAs alone. The files are read and checked at the first request to an
// https:// server, not before: a command that makes none (init, a local migration) is not failed by a
// stale variable. Verification is never turned off.
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

/** The options of the command running now, not yet read. */
let requested: TlsClientOptions = {};
/** The CLI's requests to https:// servers: built at the first (null: with the defaults), undefined before. */
let forRequests: { readonly connect: ConnectionOptions; readonly dispatcher: Dispatcher } | null | undefined;
/** The dispatcher fetch had before trustCaFileForWitnesses replaced it, put back by the next configureTlsClient. */
let original: Dispatcher | undefined;

/** Whether the CLI's requests trust CA certificates of --ca-file (for the hint when a server's is not trusted). */
export function trustsExtraCas(): boolean {
  return forRequests?.connect.ca !== undefined;
}

/** Whether the CLI's requests present a client certificate (for the hint when a server closes the connection). */
export function presentsClientCertificate(): boolean {
  return forRequests?.connect.cert !== undefined;
}

/**
 * The options of the command about to run (the files are read at its first request to an https:// server:
 * dispatcherFor). What an earlier command set up is withdrawn and its dispatchers closed, their pooled
 * connections with them, so that no connection verified under other options is used (runCli in tests runs
 * one command after another in one process).
 */
export function configureTlsClient(options: TlsClientOptions): void {
  if (forRequests) forRequests.dispatcher.close().catch(() => undefined);
  forRequests = undefined;
  if (original !== undefined) {
    const replaced = getGlobalDispatcher();
    setGlobalDispatcher(original);
    original = undefined;
    replaced.close().catch(() => undefined);
  }
  requested = { caFile: given(options.caFile), clientCert: given(options.clientCert), clientKey: given(options.clientKey) };
}

/**
 * The dispatcher for a CLI request to `url`, undefined for fetch's own (plain http://, or no option
 * given). At the first https:// one the files are read and checked: a usage error in one line if they
 * cannot be used, before anything is sent.
 */
export function dispatcherFor(url: string): Dispatcher | undefined {
  if (!/^https:/i.test(url)) return undefined;
  if (forRequests === undefined) {
    const caFile = requested.caFile;
    const certFile = requested.clientCert;
    const keyFile = requested.clientKey;
    if ((certFile === undefined) !== (keyFile === undefined)) throw usageError('--client-cert and --client-key (or ENCLAVE_CLIENT_CERT and ENCLAVE_CLIENT_KEY) go together: give both, or neither');
    const ca = trustedWith(caFile);
    const client = certFile === undefined || keyFile === undefined ? undefined : clientPair(certFile, keyFile);
    const connect = ca === undefined && client === undefined ? undefined : { ...(ca === undefined ? {} : { ca }), ...(client ?? {}) };
    forRequests = connect === undefined ? null : { connect, dispatcher: agentFor(connect, original ?? getGlobalDispatcher()) };
  }
  return forRequests?.dispatcher;
}

/**
 * `enclave serve`'s requests to its witnesses (fetch's global dispatcher, services/witness-client.ts)
 * trust the CAs of --ca-file too. No client certificate: --client-cert is the CLI's for an Enclave
 * server, and a witness is a third party, which it would identify the caller to. A file that cannot be
 * used fails the start in one line.
 */
export function trustCaFileForWitnesses(): void {
  const ca = trustedWith(requested.caFile);
  if (ca === undefined) return;
  const replaced = getGlobalDispatcher();
  const before = original ?? replaced;
  setGlobalDispatcher(agentFor({ ca }, before));
  original = before;
  if (replaced !== before) replaced.close().catch(() => undefined);
}

/** The CAs a connection trusts with `caFile`: the defaults and the file's (undefined: the defaults alone). */
function trustedWith(caFile: string | undefined): string[] | undefined {
  if (caFile === undefined) return undefined;
  const extra = certificatesOf('--ca-file (or ENCLAVE_CA_FILE)', caFile).map((c) => c.pem);
  // `ca` replaces the default list in tls.connect: the defaults go along (RFC 5280 path building from either).
  return [...getCACertificates('default'), ...extra];
}

/**
 * An Agent with `connect` for every connection; through a proxy when the one fetch had goes through one
 * (Node's --use-env-proxy or NODE_USE_ENV_PROXY=1 with HTTP_PROXY, HTTPS_PROXY, NO_PROXY): a plain Agent
 * there would connect directly, around the proxy. Through it, `connect` is for the TLS connection to the
 * server inside the tunnel (requestTls); the proxy's own TLS keeps the defaults and gets no client certificate.
 */
function agentFor(connect: ConnectionOptions, before: Dispatcher): Dispatcher {
  if (before.constructor.name === 'EnvHttpProxyAgent') return new EnvHttpProxyAgent({ connect, requestTls: connect });
  return new Agent({ connect });
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
