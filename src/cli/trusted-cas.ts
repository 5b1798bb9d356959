// --ca-file / ENCLAVE_CA_FILE: CA certificates the CLI trusts for an https:// server besides the system's
// bundle (a site's own CA, or a self-signed server certificate). Node's fetch verifies against the
// process's default CA list, so the file's certificates are added to it for this process.
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { PemCertificateError, pemCertificates } from '../crypto/pem-certificates.ts';
import { readFileLimited } from '../services/read-limited.ts';
import { usageError } from './fail.ts';

/** A CA bundle is some hundreds of KiB at most. */
const MAX_CA_FILE_BYTES = 4 * 1024 * 1024;

let baseline: readonly string[] | undefined;
let added: string | undefined;

/** Where Node's fetch (its bundled undici) keeps the dispatcher that pools its connections, once it made one. */
const FETCH_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

interface Dispatcher {
  close(): Promise<void>;
}

/**
 * A connection fetch keeps open was verified against the CA list of its time: once a CA added earlier
 * in this process is withdrawn or replaced (one runCli after another, in tests), the pooled ones are
 * closed (after any request under way) and fetch gets a new dispatcher of the same kind, so the next
 * request is verified again. A one-command process never gets here: it sets its list before any fetch.
 */
function dropPooledConnections(): void {
  const holder = globalThis as unknown as Record<symbol, Dispatcher | undefined>;
  const current = holder[FETCH_DISPATCHER];
  if (current === undefined) return;
  let fresh: Dispatcher;
  try {
    fresh = new (current.constructor as new () => Dispatcher)();
  } catch {
    // One that cannot be made without options (a ProxyAgent set by the embedding code) stays.
    return;
  }
  holder[FETCH_DISPATCHER] = fresh;
  current.close().catch(() => undefined);
}

/** Trusts the certificates of `path` from now on in this process; undefined or '' trusts the defaults alone. */
export function trustCaFile(path: string | undefined): void {
  const wanted = path === '' ? undefined : path;
  if (wanted === undefined && added === undefined) return;
  baseline ??= getCACertificates('default');
  if (wanted === undefined) {
    setDefaultCACertificates(baseline);
    added = undefined;
    dropPooledConnections();
    return;
  }
  let bytes: Buffer | undefined;
  try {
    bytes = readFileLimited(wanted, MAX_CA_FILE_BYTES);
  } catch (err) {
    throw usageError(`--ca-file (or ENCLAVE_CA_FILE) ${wanted} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (bytes === undefined) throw usageError(`--ca-file (or ENCLAVE_CA_FILE) ${wanted} is larger than 4 MiB; is it a PEM file of CA certificates?`);
  let certs;
  try {
    certs = pemCertificates(bytes.toString('utf8'));
  } catch (err) {
    if (!(err instanceof PemCertificateError)) throw err;
    throw usageError(`--ca-file (or ENCLAVE_CA_FILE) ${wanted} ${err.message}`);
  }
  setDefaultCACertificates([...baseline, ...certs.map((c) => c.pem)]);
  const replaced = added !== undefined;
  added = wanted;
  if (replaced) dropPooledConnections();
}
