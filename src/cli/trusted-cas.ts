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

/** Trusts the certificates of `path` from now on in this process; undefined or '' trusts the defaults alone. */
export function trustCaFile(path: string | undefined): void {
  const wanted = path === '' ? undefined : path;
  if (wanted === undefined && added === undefined) return;
  baseline ??= getCACertificates('default');
  if (wanted === undefined) {
    setDefaultCACertificates(baseline);
    added = undefined;
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
  added = wanted;
}
