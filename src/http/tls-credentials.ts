// The API's TLS certificate and key (server.tls), read and checked before `enclave serve` opens a store:
// a missing file, a key that is not the certificate's, an expired certificate or one OpenSSL refuses is
// invalid_config naming the key, at start, not a handshake failure at a client's first request.
import { createPrivateKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { statSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { TlsConfig } from '../core/config.ts';
import { EnclaveError } from '../core/errors.ts';
import { pemCertificates } from '../crypto/pem-certificates.ts';
import { readFileLimited } from '../services/read-limited.ts';

/** A certificate chain or key file is a few KiB; this bounds a wrong path (a log, /dev/zero). */
const MAX_PEM_BYTES = 1024 * 1024;
/** A certificate this close to its end is announced at every start. */
const EXPIRY_WARNING_MS = 14 * 24 * 3600 * 1000;
/** id-kp-serverAuth (RFC 5280 §4.2.1.12). */
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

export interface TlsCredentials {
  /** What node:tls takes (cert, key, minVersion; with client CAs, ca and the demand for a client certificate). */
  readonly options: Pick<SecureContextOptions, 'cert' | 'key' | 'minVersion' | 'ca'> & { readonly requestCert?: boolean; readonly rejectUnauthorized?: boolean };
  /** The server's own certificate (the chain's first). */
  readonly leaf: X509Certificate;
  /** Lines for the operator: a key file others may read, a certificate about to expire. */
  readonly warnings: readonly string[];
}

/** How a refusal names the two files, and its code: a configuration's keys, or a command's options. */
export interface TlsFileNames {
  readonly cert_file: string;
  readonly key_file: string;
  readonly client_ca_file?: string;
  readonly code: 'invalid_config' | 'invalid_argument';
}

/** server.tls of the configuration file `source`. */
export function configTlsNames(source: string): TlsFileNames {
  return { cert_file: `${source}: server.tls.cert_file`, key_file: `${source}: server.tls.key_file`, client_ca_file: `${source}: server.tls.client_ca_file`, code: 'invalid_config' };
}

/** `names` says in messages where the files were given (configTlsNames for server.tls). */
export function readTlsCredentials(tls: TlsConfig, names: TlsFileNames, now: Date = new Date()): TlsCredentials {
  const fail = (key: 'cert_file' | 'key_file' | 'client_ca_file', message: string, cause?: unknown) => new EnclaveError(names.code, `${names[key] ?? key}: ${message}`, cause === undefined ? {} : { cause });
  const chain = certificatesIn(tls.certFile, (m, c) => fail('cert_file', m, c));
  const leaf = (chain[0] as (typeof chain)[number]).certificate;
  let key: KeyObject;
  const keyText = readPem(tls.keyFile, (m, c) => fail('key_file', m, c));
  // PKCS#8 (RFC 5958 §3) or OpenSSL's legacy PEM encryption: a serving process has no one to ask.
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(keyText)) {
    throw fail('key_file', `${tls.keyFile} is encrypted; give the key without a passphrase (protect the file by its permissions)`);
  }
  try {
    key = createPrivateKey(keyText);
  } catch (cause) {
    throw fail('key_file', `${tls.keyFile} holds no PEM private key`, cause);
  }
  if (!leaf.checkPrivateKey(key)) throw fail('key_file', `${tls.keyFile} is not the private key of the certificate in ${tls.certFile} (${leaf.subject.replace(/\n/g, ', ')})`);
  if (now.getTime() < leaf.validFromDate.getTime()) throw fail('cert_file', `the certificate in ${tls.certFile} is not valid before ${leaf.validFromDate.toISOString()}`);
  if (now.getTime() > leaf.validToDate.getTime()) throw fail('cert_file', `the certificate in ${tls.certFile} expired on ${leaf.validToDate.toISOString()}; renew it`);
  // RFC 5280 §4.2.1.12: with the extension, the certificate is for the purposes it lists alone; one
  // without serverAuth (a client certificate, say) passes OpenSSL's checks here but every client refuses
  // it (INVALID_PURPOSE). Node lists the purposes as OIDs, undefined without the extension.
  const purposes = leaf.keyUsage as readonly string[] | undefined;
  if (purposes !== undefined && !purposes.includes(SERVER_AUTH)) {
    throw fail('cert_file', `the certificate in ${tls.certFile} is not for a TLS server: its extended key usage (${purposes.join(', ')}) lacks serverAuth (${SERVER_AUTH})`);
  }
  const clientCas = tls.clientCaFile === undefined ? undefined : clientCertificateAuthorities(tls.clientCaFile, (m, c) => fail('client_ca_file', m, c));
  const options = {
    cert: chain.map((c) => c.pem).join('\n'),
    key: keyText,
    minVersion: tls.minVersion,
    // The handshake fails for a client without a certificate these CAs issued, before any HTTP.
    ...(clientCas === undefined ? {} : { ca: clientCas, requestCert: true, rejectUnauthorized: true }),
  };
  try {
    // What OpenSSL itself refuses at its security level (a 1024-bit RSA key, say).
    createSecureContext(options);
  } catch (cause) {
    throw fail('cert_file', `OpenSSL refuses the certificate and key: ${(cause as Error).message}`, cause);
  }
  const warnings: string[] = [];
  // Any user may read it, or others than its owner may write it. Read by a group stays quiet: a key
  // shared with the service's group (0640, as Debian's ssl-cert group has it) is a common, sound setup.
  const mode = statSync(tls.keyFile).mode;
  if ((mode & 0o004) !== 0) warnings.push(`the TLS key file ${tls.keyFile} can be read by every user; chmod 600 it (or 640 for the service's group)`);
  else if ((mode & 0o022) !== 0) warnings.push(`the TLS key file ${tls.keyFile} can be written by others than its owner; chmod 600 it (or 640 for the service's group)`);
  const left = leaf.validToDate.getTime() - now.getTime();
  if (left < EXPIRY_WARNING_MS) warnings.push(`the TLS certificate expires on ${leaf.validToDate.toISOString()} (in ${Math.floor(left / 86_400_000)} days); renew it and send SIGHUP`);
  return { options, leaf, warnings };
}

/** The certificates of a PEM file, at least one, each parsed. */
function certificatesIn(path: string, fail: (message: string, cause?: unknown) => EnclaveError): ReturnType<typeof pemCertificates> {
  const text = readPem(path, fail);
  try {
    return pemCertificates(text);
  } catch (cause) {
    throw fail(`${path} ${(cause as Error).message}`, cause);
  }
}

/** The CA certificates of client_ca_file, each a CA (RFC 5280 §4.2.1.9: basicConstraints cA). */
function clientCertificateAuthorities(path: string, fail: (message: string, cause?: unknown) => EnclaveError): string[] {
  const cas = certificatesIn(path, fail);
  const notCa = cas.find((c) => !c.certificate.ca);
  if (notCa !== undefined) throw fail(`${path} holds a certificate that is no CA (${notCa.certificate.subject.replace(/\n/g, ', ')}): list the CAs that issue the clients' certificates`);
  return cas.map((c) => c.pem);
}

/** One line naming the certificate: subject, expiry and SHA-256 fingerprint (what a client may pin). */
export function describeCertificate(leaf: X509Certificate): string {
  return `${leaf.subject.replace(/\n/g, ', ')}, valid until ${leaf.validToDate.toISOString()}, SHA-256 ${leaf.fingerprint256}`;
}

function readPem(path: string, fail: (message: string, cause?: unknown) => EnclaveError): string {
  let bytes: Buffer | undefined;
  try {
    bytes = readFileLimited(path, MAX_PEM_BYTES);
  } catch (cause) {
    throw fail(`cannot read ${path}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`, cause);
  }
  if (bytes === undefined) throw fail(`${path} is larger than 1 MiB; is it a PEM file?`);
  return bytes.toString('utf8');
}
