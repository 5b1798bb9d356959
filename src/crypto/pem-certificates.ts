// X.509 certificates from PEM text (RFC 7468 §5): the TLS certificate chain `enclave serve` presents and
// the CA bundle a client trusts. Parsing is validation: text with no certificate block, or a block that
// is not a certificate, is refused with what is wrong, never passed on for OpenSSL to reject later.
import { X509Certificate } from 'node:crypto';

const BLOCK = /-----BEGIN CERTIFICATE-----\r?\n[\s\S]*?-----END CERTIFICATE-----/g;

export class PemCertificateError extends Error {
  override readonly name = 'PemCertificateError';
}

/** Every certificate block of `text`, in order, each parsed; at least one. */
export function pemCertificates(text: string): { readonly pem: string; readonly certificate: X509Certificate }[] {
  const blocks = text.match(BLOCK) ?? [];
  if (blocks.length === 0) throw new PemCertificateError('holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  return blocks.map((pem, i) => {
    try {
      return { pem, certificate: new X509Certificate(pem) };
    } catch (cause) {
      throw new PemCertificateError(`certificate ${i + 1} of ${blocks.length} is not a valid X.509 certificate`, { cause });
    }
  });
}
