// Certificates for the TLS tests, made by the openssl command line (node:crypto parses X.509 but does not
// issue it): a CA, a server certificate it issued for localhost and 127.0.0.1, one for the same key and
// names but for TLS clients only, and an unrelated self-signed certificate. P-256 keys, valid 30 days from
// now; files under `dir`, keys mode 600.
import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestPki {
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** Issued by the CA for the server's key and names, its extended key usage clientAuth alone (RFC 5280 §4.2.1.12). */
  readonly clientOnlyCert: string;
  /** A self-signed certificate for localhost and 127.0.0.1, issued by no CA of the set. */
  readonly otherCert: string;
  readonly otherKey: string;
}

function openssl(args: readonly string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    throw new Error(`the TLS tests make their certificates with the openssl command, which failed (is it installed? Debian: apt-get install openssl): ${(err as Error).message}`);
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

export function makeTestPki(dir: string): TestPki {
  const f = (name: string) => join(dir, name);
  const ext = f('server.ext');
  writeFileSync(ext, 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl(['req', '-x509', ...EC, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '30', '-subj', '/CN=Enclave Test CA']);
  openssl(['req', ...EC, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost']);
  openssl(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.crt'), '-days', '30', '-extfile', ext]);
  writeFileSync(f('client.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=clientAuth\n');
  openssl(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('client-only.crt'), '-days', '30', '-extfile', f('client.ext')]);
  openssl(['req', '-x509', ...EC, '-keyout', f('other.key'), '-out', f('other.crt'), '-days', '20', '-subj', '/CN=other', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']);
  for (const key of ['ca.key', 'server.key', 'other.key']) chmodSync(f(key), 0o600);
  return { caCert: f('ca.crt'), serverCert: f('server.crt'), serverKey: f('server.key'), clientOnlyCert: f('client-only.crt'), otherCert: f('other.crt'), otherKey: f('other.key') };
}
