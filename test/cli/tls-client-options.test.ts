// The CLI's TLS options (--ca-file, --client-cert, --client-key and their ENCLAVE_* variables) are read
// by a command when it first connects to an https:// server, not before: a stale variable fails no command
// that makes no such connection. `enclave serve` trusts --ca-file for its witnesses but presents them no
// client certificate: the one given is the CLI's for an Enclave server, and a witness is a third party.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type RunningServer } from '../../src/cli/serve-runner.ts';
import { configureTlsClient } from '../../src/cli/tls-client.ts';
import { generateNoteKey, SIG_TYPE_COSIGNATURE } from '../../src/core/tlog/index.ts';
import { makeFixture, type Fixture } from '../helpers/fixture.ts';
import { makeTestPki, type TestPki } from '../helpers/test-pki.ts';
import { initializedEnclave, killAll, oneErrorLine, removeDir, run, startListening, tempDir, waitFor } from './helpers.ts';

describe('TLS options a command does not use', () => {
  let dir = '';
  let f: Fixture;
  let server: RunningServer;
  before(async () => {
    dir = tempDir();
    f = await makeFixture({ sealed: true });
    server = await startServer(f.enclave, { host: '127.0.0.1', port: 0, logLevel: 'silent' });
  });
  after(async () => {
    configureTlsClient({});
    await server.close();
    await f.close();
    killAll();
    removeDir(dir);
  });

  const stale = () => ({ ENCLAVE_CA_FILE: join(dir, 'gone', 'ca.pem'), ENCLAVE_CLIENT_CERT: join(dir, 'gone', 'client.crt') });

  it('a stale ENCLAVE_CA_FILE or ENCLAVE_CLIENT_CERT fails no command that connects to no https:// server', async () => {
    const init = await run(['init', '--dir', join(dir, 'a')], { env: stale() });
    assert.equal(init.code, 0, init.stderr);
    const plain = await run(['unseal', '--status', '--server', server.url], { env: stale() });
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /sealed/);
  });

  it('a command that connects to an https:// server still refuses them in one line, exit 2, before sending anything', async () => {
    const tls = await run(['unseal', '--status', '--server', 'https://127.0.0.1:1'], { env: stale() });
    assert.equal(tls.code, 2);
    assert.match(oneErrorLine(tls).message, /--client-cert and --client-key \(or ENCLAVE_CLIENT_CERT and ENCLAVE_CLIENT_KEY\) go together/);
    const ca = await run(['unseal', '--status', '--server', 'https://127.0.0.1:1'], { env: { ENCLAVE_CA_FILE: stale().ENCLAVE_CA_FILE } });
    assert.equal(ca.code, 2);
    assert.match(oneErrorLine(ca).message, /^--ca-file \(or ENCLAVE_CA_FILE\) .*ca\.pem cannot be read: ENOENT$/);
  });
});

describe('enclave serve and its witnesses', () => {
  const enclave = initializedEnclave(['--dev']);
  let pki: TestPki;
  before(() => {
    mkdirSync(join(enclave.dir, 'pki'));
    pki = makeTestPki(join(enclave.dir, 'pki'));
  });

  it('trusts --ca-file (ENCLAVE_CA_FILE) for an https:// witness, and presents it no client certificate (ENCLAVE_CLIENT_CERT)', async () => {
    // A witness that asks every client for a certificate, and notes what each presented.
    const presented: string[] = [];
    const witness = createHttpsServer({ cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey), requestCert: true, rejectUnauthorized: false }, (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      presented.push(peer.subject === undefined ? 'none' : `CN=${String(peer.subject.CN)}`);
      res.writeHead(503).end();
    });
    await new Promise<void>((resolve) => witness.listen(0, '127.0.0.1', resolve));
    try {
      const key = generateNoteKey('witness.example', SIG_TYPE_COSIGNATURE);
      const url = `https://localhost:${(witness.address() as AddressInfo).port}`;
      writeFileSync(enclave.config, readFileSync(enclave.config, 'utf8').replace(/^ {2}witness_quorum: 0$/m, `  witnesses:\n    - { name: witness.example, url: "${url}", vkey: "${key.vkey}" }\n  witness_quorum: 0`));
      const env = { ENCLAVE_CA_FILE: pki.caCert, ENCLAVE_CLIENT_CERT: pki.clientOnlyCert, ENCLAVE_CLIENT_KEY: pki.serverKey };
      const server = await startListening(['serve', '--config', enclave.config, '--port', '0', '--dev-unseal'], { env });
      assert.ok(await waitFor(() => presented.length > 0, 20_000), `no cosigning request reached the witness: ${server.stderr()}`);
      assert.deepEqual([...new Set(presented)], ['none'], 'the CLI\'s client certificate was presented to a witness');
      assert.equal(await server.stop(), 0, server.stderr());
    } finally {
      witness.closeAllConnections();
      witness.close();
    }
  });

  it('refuses --client-cert given on its command line, in one line', async () => {
    const r = await run(['serve', '--config', enclave.config, '--port', '0', '--client-cert', pki.clientOnlyCert, '--client-key', pki.serverKey]);
    assert.equal(r.code, 2);
    assert.match(oneErrorLine(r).message, /^--client-cert and --client-key are for the CLI's requests to an Enclave server; `enclave serve` presents no client certificate to its witnesses/);
  });
});
