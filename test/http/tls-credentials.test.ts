// server.tls: the certificate and key are checked when `enclave serve` starts (and at each SIGHUP), so a
// wrong file fails the start in one line naming the key instead of failing every client's handshake.
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { TlsConfig } from '../../src/core/config.ts';
import { EnclaveError } from '../../src/core/errors.ts';
import { PemCertificateError, pemCertificates } from '../../src/crypto/pem-certificates.ts';
import { configTlsNames, describeCertificate, readTlsCredentials } from '../../src/http/tls-credentials.ts';
import { makeTestPki, type TestPki } from '../helpers/test-pki.ts';

let dir = '';
let pki: TestPki;
const tls = (certFile: string, keyFile: string): TlsConfig => ({ certFile, keyFile, minVersion: 'TLSv1.2' });

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'enclave-tls-'));
  pki = makeTestPki(dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** The invalid_config message reading `config` gives; fails the test if it is accepted. */
function refusal(config: TlsConfig, now?: Date): string {
  try {
    readTlsCredentials(config, configTlsNames('enclave.yaml'), now);
  } catch (err) {
    assert.ok(err instanceof EnclaveError, String(err));
    assert.equal(err.code, 'invalid_config');
    return err.message;
  }
  assert.fail('the credentials were accepted');
}

describe('readTlsCredentials', () => {
  it('reads a certificate and its key, and names the certificate', () => {
    const c = readTlsCredentials(tls(pki.serverCert, pki.serverKey), configTlsNames('enclave.yaml'));
    assert.deepEqual(c.warnings, []);
    assert.equal(c.options.minVersion, 'TLSv1.2');
    const line = describeCertificate(c.leaf);
    assert.match(line, /^CN=localhost, valid until \d{4}-\d\d-\d\dT.*, SHA-256 [0-9A-F]{2}(:[0-9A-F]{2}){31}$/);
    assert.ok(line.endsWith(new X509Certificate(readFileSync(pki.serverCert)).fingerprint256));
  });

  it('refuses a missing file, naming the key and the path', () => {
    assert.match(refusal(tls(join(dir, 'nope.crt'), pki.serverKey)), /^enclave\.yaml: server\.tls\.cert_file: cannot read .*nope\.crt: ENOENT$/);
    assert.match(refusal(tls(pki.serverCert, join(dir, 'nope.key'))), /^enclave\.yaml: server\.tls\.key_file: cannot read .*nope\.key: ENOENT$/);
  });

  it('refuses a certificate file holding no certificate, or a broken one', () => {
    assert.match(refusal(tls(pki.serverKey, pki.serverKey)), /server\.tls\.cert_file: .* holds no PEM certificate/);
    const broken = join(dir, 'broken.crt');
    writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    assert.match(refusal(tls(broken, pki.serverKey)), /server\.tls\.cert_file: .* certificate 1 of 1 is not a valid X\.509 certificate/);
  });

  it('refuses a key file holding no key, an encrypted key, and the key of another certificate', () => {
    assert.match(refusal(tls(pki.serverCert, pki.serverCert)), /server\.tls\.key_file: .* holds no PEM private key/);
    const encrypted = join(dir, 'encrypted.key');
    // The same key under a passphrase (PKCS#8, AES-256-CBC).
    writeFileSync(encrypted, createPrivateKey(readFileSync(pki.serverKey)).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }));
    assert.match(refusal(tls(pki.serverCert, encrypted)), /server\.tls\.key_file: .* is encrypted; give the key without a passphrase/);
    assert.match(refusal(tls(pki.serverCert, pki.otherKey)), /server\.tls\.key_file: .*other\.key is not the private key of the certificate in .*server\.crt \(CN=localhost\)$/);
  });

  it('refuses a certificate for TLS clients only, which every client would refuse (unsuitable purpose)', () => {
    assert.match(
      refusal(tls(pki.clientOnlyCert, pki.serverKey)),
      /^enclave\.yaml: server\.tls\.cert_file: the certificate in .*client-only\.crt is not for a TLS server: its extended key usage \(1\.3\.6\.1\.5\.5\.7\.3\.2\) lacks serverAuth \(1\.3\.6\.1\.5\.5\.7\.3\.1\)$/,
    );
  });

  it('refuses an expired certificate and one not valid yet, and warns two weeks ahead', () => {
    const leaf = new X509Certificate(readFileSync(pki.serverCert));
    const day = 86_400_000;
    assert.match(refusal(tls(pki.serverCert, pki.serverKey), new Date(leaf.validToDate.getTime() + 1000)), /server\.tls\.cert_file: the certificate in .* expired on .*; renew it$/);
    assert.match(refusal(tls(pki.serverCert, pki.serverKey), new Date(leaf.validFromDate.getTime() - day)), /server\.tls\.cert_file: the certificate in .* is not valid before /);
    const soon = readTlsCredentials(tls(pki.serverCert, pki.serverKey), configTlsNames('enclave.yaml'), new Date(leaf.validToDate.getTime() - 5 * day));
    assert.deepEqual(soon.warnings.map((w) => w.replace(/on \S+/, 'on T')), ['the TLS certificate expires on T (in 5 days); renew it and send SIGHUP']);
    assert.deepEqual(readTlsCredentials(tls(pki.serverCert, pki.serverKey), configTlsNames('enclave.yaml'), new Date(leaf.validToDate.getTime() - 15 * day)).warnings, []);
  });

  it('warns when every user can read the key file, or others can write it, not when its group reads it', () => {
    const key = join(dir, 'open.key');
    copyFileSync(pki.serverKey, key);
    const warnings = (mode: number) => {
      chmodSync(key, mode);
      return readTlsCredentials(tls(pki.serverCert, key), configTlsNames('enclave.yaml')).warnings;
    };
    assert.deepEqual(warnings(0o644), [`the TLS key file ${key} can be read by every user; chmod 600 it (or 640 for the service's group)`]);
    assert.deepEqual(warnings(0o660), [`the TLS key file ${key} can be written by others than its owner; chmod 600 it (or 640 for the service's group)`]);
    assert.deepEqual(warnings(0o640), []);
    assert.deepEqual(warnings(0o600), []);
  });

  it('presents the whole chain: the certificate first, then what follows it in the file', () => {
    const chain = join(dir, 'chain.crt');
    writeFileSync(chain, readFileSync(pki.serverCert, 'utf8') + readFileSync(pki.caCert, 'utf8'));
    const c = readTlsCredentials(tls(chain, pki.serverKey), configTlsNames('enclave.yaml'));
    assert.equal(c.leaf.subject, 'CN=localhost');
    assert.equal(pemCertificates(String(c.options.cert)).length, 2);
  });
});

describe('pemCertificates', () => {
  it('finds every certificate of a bundle, text around them ignored', () => {
    const ca = readFileSync(pki.caCert, 'utf8');
    const server = readFileSync(pki.serverCert, 'utf8');
    const found = pemCertificates(`# bundle\n${ca}\nsome words\n${server}`);
    assert.deepEqual(found.map((c) => c.certificate.subject), ['CN=Enclave Test CA', 'CN=localhost']);
  });

  it('throws PemCertificateError and nothing else for any text (property)', () => {
    const ca = readFileSync(pki.caCert, 'utf8');
    const body = ca.split('\n').slice(1, -2).join('\n');
    const text = fc.oneof(
      fc.string(),
      fc.string().map((s) => `-----BEGIN CERTIFICATE-----\n${s}\n-----END CERTIFICATE-----`),
      // A real certificate's base64 with characters replaced or cut.
      fc.tuple(fc.nat(body.length), fc.nat(body.length), fc.string({ maxLength: 4 })).map(([i, j, s]) => `-----BEGIN CERTIFICATE-----\n${body.slice(0, Math.min(i, j))}${s}${body.slice(Math.max(i, j))}\n-----END CERTIFICATE-----\n`),
    );
    fc.assert(
      fc.property(text, (t) => {
        try {
          const found = pemCertificates(t);
          assert.ok(found.length >= 1);
        } catch (err) {
          assert.ok(err instanceof PemCertificateError, String(err));
        }
      }),
    );
  });
});
