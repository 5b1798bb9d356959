// HTTPS on the API's own listener (server.tls): tokens and unseal shares never cross a hop in clear. The
// server presents the configured certificate, refuses old protocol versions and plain HTTP, swaps its
// certificate on SIGHUP without sealing, and the CLI connects only to a certificate it trusts (--ca-file).
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, get as httpGet } from 'node:http';
import { createServer as createHttpsServer, get as httpsGet } from 'node:https';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect, type ConnectionOptions } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { startServer, type RunningServer } from '../../src/cli/serve-runner.ts';
import { configureTlsClient } from '../../src/cli/tls-client.ts';
import { configTlsNames, readTlsCredentials } from '../../src/http/tls-credentials.ts';
import { makeFixture, type Fixture } from '../helpers/fixture.ts';
import { makeTestPki, type TestPki } from '../helpers/test-pki.ts';
import { initializedEnclave, oneErrorLine, run, runInProcess, startListening, waitFor } from './helpers.ts';

const fingerprint = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256;

/** The fingerprint of the certificate a new TLS handshake gets, or the handshake's error code. */
function handshake(port: number, options: ConnectionOptions = {}): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, ...options }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code ?? err.message}`));
  });
}

/** The body of a GET over HTTPS trusting `ca` alone. */
function getText(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsGet(url, { ca: readFileSync(ca), agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
}

/** The status of GET /healthz over HTTPS trusting `ca`, or the request's error code. */
function healthz(url: string, ca?: string): Promise<string> {
  return new Promise((resolve) => {
    const req = httpsGet(`${url}/healthz`, { ...(ca === undefined ? {} : { ca: readFileSync(ca) }), agent: false }, (res) => {
      res.resume();
      resolve(String(res.statusCode));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code ?? err.message}`));
  });
}

describe('the API over HTTPS (in process)', () => {
  let f: Fixture;
  let pki: TestPki;
  let server: RunningServer;
  let port = 0;

  before(async () => {
    f = await makeFixture({ sealed: true });
    mkdirSync(join(f.dir, 'pki'));
    pki = makeTestPki(join(f.dir, 'pki'));
    server = await startServer(f.enclave, { host: '127.0.0.1', port: 0, logLevel: 'silent', tls: readTlsCredentials({ certFile: pki.serverCert, keyFile: pki.serverKey, minVersion: 'TLSv1.2' }, configTlsNames('enclave.yaml')) });
    port = Number(new URL(server.url).port);
  });
  after(async () => {
    configureTlsClient({});
    await server.close();
    await f.close();
  });

  it('reports an https:// URL and presents the configured certificate, verified against its CA', async () => {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(await handshake(port), fingerprint(pki.serverCert));
    assert.equal(await healthz(server.url, pki.caCert), '200');
    // Without the CA the client refuses the server.
    assert.equal(await healthz(server.url), 'error UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('refuses TLS 1.1 and below, and plain HTTP', async () => {
    assert.match(await handshake(port, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1' }), /^error /);
    assert.equal(await handshake(port, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }), fingerprint(pki.serverCert));
    const plain = await new Promise<string>((resolve) => {
      const req = httpGet(`http://127.0.0.1:${port}/healthz`, { agent: false }, (res) => {
        res.resume();
        resolve(`status ${res.statusCode}`);
      });
      req.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code ?? ''}`));
    });
    assert.match(plain, /^error /);
  });

  it('the CLI refuses an untrusted certificate, says what to pass, and enters a share once it trusts the CA', async () => {
    const refused = await runInProcess(['unseal', '--share', f.shares[0] ?? '', '--server', server.url]);
    assert.equal(refused.code, 1);
    const line = oneErrorLine(refused);
    assert.equal(line.code, 'unreachable');
    assert.match(line.message, /^cannot reach https:\/\/127\.0\.0\.1:\d+ \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\); the server's TLS certificate is not issued by a CA this CLI trusts: pass --ca-file/);
    assert.equal(f.enclave.seal.status().progress, 0, 'no share reached the server');
    const entered = await runInProcess(['unseal', '--share', f.shares[0] ?? '', '--server', server.url, '--ca-file', pki.caCert]);
    assert.equal(entered.code, 0, entered.stderr);
    assert.equal(f.enclave.seal.status().progress, 1);
  });

  it('the CA one in-process run trusts is not trusted by the next: no connection verified against it is reused', async () => {
    const trusted = await runInProcess(['unseal', '--status', '--server', server.url, '--ca-file', pki.caCert]);
    assert.equal(trusted.code, 0, trusted.stderr);
    const next = await runInProcess(['unseal', '--status', '--server', server.url]);
    assert.equal(next.code, 1, `the run without --ca-file reached the server: ${next.stdout}`);
    assert.match(oneErrorLine(next).message, /\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\); the server's TLS certificate is not issued by a CA this CLI trusts/);
  });

  it('keeps the HTTP settings Fastify gives a listener of its own making (keep-alive, request time limit)', async () => {
    const plain = await startServer(f.enclave, { host: '127.0.0.1', port: 0, logLevel: 'silent' });
    try {
      for (const setting of ['keepAliveTimeout', 'requestTimeout', 'headersTimeout', 'timeout', 'maxRequestsPerSocket'] as const) {
        // An https.Server leaves maxRequestsPerSocket undefined where an http.Server has 0: no limit either way.
        assert.equal(server.app.server[setting] ?? 0, plain.app.server[setting] ?? 0, setting);
      }
    } finally {
      await plain.close();
    }
  });

  it('refuses an HTTP/1.1 request without Host in the API\'s error shape, as a plain listener does (Fastify\'s http options reach it)', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => socket.write('GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n'));
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString('utf8')));
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
    });
    assert.match(answer, /^HTTP\/1\.1 400 /, answer);
    assert.equal((JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: { code: string } }).error.code, 'invalid_request');
  });

  it('a certificate for TLS clients only is refused by the CLI, naming the cause', async () => {
    // Served by node:https itself: `enclave serve` refuses to start with it (tls-credentials.ts).
    const wrong = createHttpsServer({ cert: readFileSync(pki.clientOnlyCert), key: readFileSync(pki.serverKey) }, (_req, res) => res.end('{}'));
    await new Promise<void>((resolve) => wrong.listen(0, '127.0.0.1', resolve));
    try {
      const result = await runInProcess(['unseal', '--status', '--server', `https://127.0.0.1:${(wrong.address() as AddressInfo).port}`, '--ca-file', pki.caCert]);
      assert.equal(result.code, 1);
      assert.match(oneErrorLine(result).message, /\(INVALID_PURPOSE\); the server's TLS certificate is not one for a TLS server/);
    } finally {
      wrong.close();
      wrong.closeAllConnections();
    }
  });

  it('a certificate for another name is refused by the CLI, naming the cause', async () => {
    // 127.0.0.2 is loopback too on Linux; the certificate names 127.0.0.1 and localhost only.
    const elsewhere = await startServer(f.enclave, { host: '127.0.0.2', port: 0, logLevel: 'silent', tls: readTlsCredentials({ certFile: pki.serverCert, keyFile: pki.serverKey, minVersion: 'TLSv1.2' }, configTlsNames('enclave.yaml')) });
    try {
      const other = await runInProcess(['unseal', '--status', '--server', elsewhere.url, '--ca-file', pki.caCert]);
      assert.equal(other.code, 1);
      assert.match(oneErrorLine(other).message, /ERR_TLS_CERT_ALTNAME_INVALID\); the server's TLS certificate is not for this host name/);
    } finally {
      await elsewhere.close();
    }
  });

  it('the CLI says to use https:// when given http:// for it, and http:// when given https:// for a plain server', async () => {
    const plain = await runInProcess(['unseal', '--status', '--server', `http://127.0.0.1:${port}`]);
    assert.equal(plain.code, 1);
    assert.match(oneErrorLine(plain).message, /; the server closed the connection; if it serves HTTPS \(server\.tls\), use https:\/\/$/);
    const http = await startServer(f.enclave, { host: '127.0.0.1', port: 0, logLevel: 'silent' });
    try {
      assert.match(http.url, /^http:\/\//);
      const tls = await runInProcess(['unseal', '--status', '--server', http.url.replace('http:', 'https:')]);
      assert.equal(tls.code, 1);
      assert.match(oneErrorLine(tls).message, /; the server does not speak TLS there: try http:\/\/$/);
    } finally {
      await http.close();
    }
  });

  it('a --ca-file that holds another CA: the hint says so instead of asking for --ca-file', async () => {
    const wrongCa = await runInProcess(['unseal', '--status', '--server', server.url, '--ca-file', pki.otherCert]);
    assert.equal(wrongCa.code, 1);
    assert.match(oneErrorLine(wrongCa).message, /\); the server's TLS certificate is not issued by a CA this CLI trusts, those of --ca-file \(or ENCLAVE_CA_FILE\) included: give the file holding the CA that issued it$/);
  });

  it('a --ca-file that cannot be read or holds no certificate is a usage error', async () => {
    const missing = await runInProcess(['unseal', '--status', '--server', server.url, '--ca-file', join(f.dir, 'none.pem')]);
    assert.equal(missing.code, 2);
    assert.match(oneErrorLine(missing).message, /^--ca-file \(or ENCLAVE_CA_FILE\) .*none\.pem cannot be read: ENOENT$/);
    const notCa = await runInProcess(['unseal', '--status', '--server', server.url, '--ca-file', pki.serverKey]);
    assert.equal(notCa.code, 2);
    assert.match(oneErrorLine(notCa).message, /server\.key holds no PEM certificate/);
  });

  it('/metrics gives the presented certificate\'s expiry, and follows a replacement', async () => {
    const expiry = async (ca: string): Promise<number | undefined> => {
      const m = /^enclave_tls_certificate_expiry_timestamp_seconds (\d+)$/m.exec(await getText(`${server.url}/metrics`, ca));
      return m ? Number(m[1]) : undefined;
    };
    const validTo = (file: string) => new X509Certificate(readFileSync(file)).validToDate.getTime() / 1000;
    assert.notEqual(validTo(pki.otherCert), validTo(pki.serverCert));
    assert.equal(await expiry(pki.caCert), validTo(pki.serverCert));
    server.replaceTls(readTlsCredentials({ certFile: pki.otherCert, keyFile: pki.otherKey, minVersion: 'TLSv1.2' }, configTlsNames('enclave.yaml')));
    try {
      // Fetched trusting the other (self-signed) certificate: over the replaced one.
      assert.equal(await expiry(pki.otherCert), validTo(pki.otherCert));
    } finally {
      server.replaceTls(readTlsCredentials({ certFile: pki.serverCert, keyFile: pki.serverKey, minVersion: 'TLSv1.2' }, configTlsNames('enclave.yaml')));
    }
  });

  it('replaceTls presents the new certificate from the next handshake on', async () => {
    server.replaceTls(readTlsCredentials({ certFile: pki.otherCert, keyFile: pki.otherKey, minVersion: 'TLSv1.2' }, configTlsNames('enclave.yaml')));
    try {
      assert.equal(await handshake(port), fingerprint(pki.otherCert));
      assert.equal(await healthz(server.url, pki.otherCert), '200');
    } finally {
      server.replaceTls(readTlsCredentials({ certFile: pki.serverCert, keyFile: pki.serverKey, minVersion: 'TLSv1.2' }, configTlsNames('enclave.yaml')));
    }
    assert.equal(await handshake(port), fingerprint(pki.serverCert));
  });
});

describe('mutual TLS (server.tls.client_ca_file)', () => {
  let f: Fixture;
  let pki: TestPki;
  let server: RunningServer;

  before(async () => {
    f = await makeFixture({ sealed: true });
    mkdirSync(join(f.dir, 'pki'));
    pki = makeTestPki(join(f.dir, 'pki'));
    const tls = { certFile: pki.serverCert, keyFile: pki.serverKey, minVersion: 'TLSv1.2' as const, clientCaFile: pki.caCert };
    server = await startServer(f.enclave, { host: '127.0.0.1', port: 0, logLevel: 'silent', tls: readTlsCredentials(tls, configTlsNames('enclave.yaml')) });
  });
  after(async () => {
    configureTlsClient({});
    await server.close();
    await f.close();
  });

  it('refuses a client without a certificate, or with one no listed CA issued, and says what to pass', async () => {
    const none = await runInProcess(['unseal', '--status', '--server', server.url, '--ca-file', pki.caCert]);
    assert.equal(none.code, 1);
    assert.match(oneErrorLine(none).message, /; the server closed the connection; if it requires a TLS client certificate \(server\.tls\.client_ca_file\), pass --client-cert and --client-key/);
    const stranger = await runInProcess(['unseal', '--status', '--server', server.url, '--ca-file', pki.caCert, '--client-cert', pki.otherCert, '--client-key', pki.otherKey]);
    assert.equal(stranger.code, 1);
    assert.match(oneErrorLine(stranger).message, /; the server closed the connection; if it requires TLS client certificates \(server\.tls\.client_ca_file\), it refused this one/);
    assert.equal(f.enclave.seal.status().progress, 0);
  });

  it('under TLS 1.2 too: the missing certificate is named, and a refused one', async () => {
    const creds = readTlsCredentials({ certFile: pki.serverCert, keyFile: pki.serverKey, minVersion: 'TLSv1.2', clientCaFile: pki.caCert }, configTlsNames('enclave.yaml'));
    const tls12 = await startServer(f.enclave, { host: '127.0.0.1', port: 0, logLevel: 'silent', tls: { ...creds, options: { ...creds.options, maxVersion: 'TLSv1.2' } as typeof creds.options } });
    try {
      const none = await runInProcess(['unseal', '--status', '--server', tls12.url, '--ca-file', pki.caCert]);
      assert.equal(none.code, 1);
      assert.match(oneErrorLine(none).message, /; the server requires a TLS client certificate: pass --client-cert and --client-key/);
      const stranger = await runInProcess(['unseal', '--status', '--server', tls12.url, '--ca-file', pki.caCert, '--client-cert', pki.otherCert, '--client-key', pki.otherKey]);
      assert.equal(stranger.code, 1);
      assert.match(oneErrorLine(stranger).message, /it refused this one: give one that a CA it lists issued/);
    } finally {
      await tls12.close();
    }
  });

  it('serves a client whose certificate a listed CA issued, share and all', async () => {
    const entered = await runInProcess(['unseal', '--share', f.shares[0] ?? '', '--server', server.url, '--ca-file', pki.caCert, '--client-cert', pki.clientOnlyCert, '--client-key', pki.serverKey]);
    assert.equal(entered.code, 0, entered.stderr);
    assert.equal(f.enclave.seal.status().progress, 1);
  });

  it('through the proxy Node is told to use (NODE_USE_ENV_PROXY, HTTPS_PROXY), --ca-file and --client-cert included', async () => {
    // An HTTP CONNECT proxy that notes each tunnel it opens.
    const tunnels: string[] = [];
    const proxy = createHttpServer((_req, res) => res.writeHead(405).end());
    proxy.on('connect', (req, client: Socket, head: Buffer) => {
      tunnels.push(req.url ?? '');
      const [host, port] = (req.url ?? '').split(':');
      const upstream = netConnect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client).on('error', () => undefined);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const env = { NODE_USE_ENV_PROXY: '1', HTTPS_PROXY: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, NO_PROXY: '', no_proxy: '' };
      const status = await run(['unseal', '--status', '--server', server.url, '--ca-file', pki.caCert, '--client-cert', pki.clientOnlyCert, '--client-key', pki.serverKey], { env });
      assert.equal(status.code, 0, status.stderr);
      assert.deepEqual(tunnels, [`127.0.0.1:${new URL(server.url).port}`], 'the CLI went around the proxy');
    } finally {
      proxy.close();
      proxy.closeAllConnections();
    }
  });

  it('options a run refuses leave nothing of the run before: no CA trusted, no certificate presented', async () => {
    const trusted = await runInProcess(['unseal', '--status', '--server', server.url, '--ca-file', pki.caCert, '--client-cert', pki.clientOnlyCert, '--client-key', pki.serverKey]);
    assert.equal(trusted.code, 0, trusted.stderr);
    const refused = await runInProcess(['unseal', '--status', '--server', server.url, '--ca-file', join(f.dir, 'none.pem')]);
    assert.equal(refused.code, 2);
    // This process's own fetch: neither the CA nor the client certificate of the first run.
    const after = await fetch(`${server.url}/healthz`).then(
      (res) => `status ${res.status}`,
      (err: Error) => `error ${(err.cause as NodeJS.ErrnoException | undefined)?.code ?? err.message}`,
    );
    // (This server sends its CA along: OpenSSL completes its chain from the client CAs.)
    assert.match(after, /^error (SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)$/, 'the first run\'s CA is still trusted');
  });

  it('--client-cert without --client-key, or with a key not its own, is a usage error', async () => {
    const half = await runInProcess(['unseal', '--status', '--server', server.url, '--client-cert', pki.clientOnlyCert]);
    assert.equal(half.code, 2);
    assert.match(oneErrorLine(half).message, /--client-cert and --client-key .* go together/);
    const wrong = await runInProcess(['unseal', '--status', '--server', server.url, '--client-cert', pki.clientOnlyCert, '--client-key', pki.otherKey]);
    assert.equal(wrong.code, 2);
    assert.match(oneErrorLine(wrong).message, /other\.key is not the private key of the certificate in .*client-only\.crt$/);
  });

  it('a client_ca_file listing no CA is refused at start', () => {
    assert.throws(
      () => readTlsCredentials({ certFile: pki.serverCert, keyFile: pki.serverKey, minVersion: 'TLSv1.2', clientCaFile: pki.serverCert }, configTlsNames('enclave.yaml')),
      (err: unknown) => err instanceof Error && /^enclave\.yaml: server\.tls\.client_ca_file: .*server\.crt holds a certificate that is no CA \(CN=localhost\)/.test(err.message),
    );
  });
});

describe('enclave serve with server.tls', () => {
  const enclave = initializedEnclave();
  let pki: TestPki;
  /** The enclave's tls directory, or a file in it. */
  const inTls = (...name: string[]) => join(enclave.dir, 'a', 'tls', ...name);

  before(() => {
    mkdirSync(inTls());
    pki = makeTestPki(inTls());
    copyFileSync(pki.serverCert, inTls('live.crt'));
    copyFileSync(pki.serverKey, inTls('live.key'));
    // Relative paths: against the configuration file's directory, wherever serve is started.
    const yaml = readFileSync(enclave.config, 'utf8').replace(/^server:\n/m, 'server:\n  tls:\n    cert_file: tls/live.crt\n    key_file: tls/live.key\n');
    writeFileSync(enclave.config, yaml);
  });

  it('serves https, names its certificate, and swaps it on SIGHUP while staying up and sealed', async () => {
    const server = await startListening(['serve', '--config', enclave.config, '--port', '0']);
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const port = Number(new URL(server.url).port);
    assert.match(server.stdout(), new RegExp(`^TLS TLSv1\\.2 or later: CN=localhost, valid until \\S+, SHA-256 ${fingerprint(pki.serverCert)} \\(SIGHUP reloads the certificate and key\\)$`, 'm'));
    assert.equal(await healthz(server.url, pki.caCert), '200');
    // Fastify's own line in the request log names the scheme served.
    assert.match(server.stdout(), /"msg":"Server listening at https:\/\/127\.0\.0\.1:\d+"/);
    assert.doesNotMatch(server.stdout(), /Server listening at http:/);

    copyFileSync(pki.otherCert, inTls('live.crt'));
    copyFileSync(pki.otherKey, inTls('live.key'));
    server.child.kill('SIGHUP');
    await waitFor(() => server.stderr().includes('reloaded'));
    assert.match(server.stderr(), /SIGHUP: TLS certificate reloaded: CN=other, valid until/);
    assert.equal(await handshake(port), fingerprint(pki.otherCert));

    // A pair that does not match is refused; the certificate in use stays.
    copyFileSync(pki.serverCert, inTls('live.crt'));
    server.child.kill('SIGHUP');
    await waitFor(() => server.stderr().includes('not reloaded'));
    assert.match(server.stderr(), /SIGHUP: TLS certificate not reloaded, the one in use stays: .*enclave\.yaml: server\.tls\.key_file: .*live\.key is not the private key of the certificate/);
    assert.equal(await handshake(port), fingerprint(pki.otherCert));
    const status = await fetch(`${server.url}/v1/sys/seal-status`).catch(() => undefined);
    assert.equal(status, undefined, 'the test process does not trust the CA: fetch must refuse');
    assert.equal(await server.stop(), 0);
  });

  it('a SIGHUP while the server closes is noted, not fatal: the stores are closed and it exits 0', async () => {
    copyFileSync(pki.serverCert, inTls('live.crt'));
    copyFileSync(pki.serverKey, inTls('live.key'));
    const server = await startListening(['serve', '--config', enclave.config, '--port', '0']);
    const ended = () => server.child.exitCode !== null || server.child.signalCode !== null;
    // A request whose body never ends: the server, closing, waits for it.
    const socket = connect({ host: '127.0.0.1', port: Number(new URL(server.url).port), servername: 'localhost', ca: readFileSync(pki.caCert) });
    socket.on('error', () => undefined);
    await once(socket, 'secureConnect');
    socket.write('POST /v1/sys/unseal HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{');
    assert.ok(await waitFor(() => server.stdout().includes('"url":"/v1/sys/unseal"')), 'the request did not reach the server');
    server.child.kill('SIGTERM');
    assert.ok(await waitFor(() => server.stderr().includes('SIGTERM: closing the server and the stores')), server.stderr());
    server.child.kill('SIGHUP');
    await waitFor(() => server.stderr().includes('SIGHUP: the server is closing') || ended());
    assert.equal(server.child.signalCode, null, 'SIGHUP ended the process while it closed the stores');
    assert.equal(ended(), false, 'the server did not wait for the request under way');
    assert.match(server.stderr(), /^SIGHUP: the server is closing; the TLS certificate is not reloaded$/m);
    socket.destroy();
    assert.ok(await waitFor(ended, 10_000), 'the server did not exit once the request was gone');
    assert.equal(await server.stop(), 0, server.stderr());
  });

  it('refuses to start with a key that is not the certificate\'s, in one line naming the key', async () => {
    copyFileSync(pki.serverCert, inTls('live.crt'));
    copyFileSync(pki.otherKey, inTls('live.key'));
    const result = await run(['serve', '--config', enclave.config, '--port', '0']);
    assert.equal(result.code, 1);
    const line = oneErrorLine(result);
    assert.equal(line.code, 'invalid_config');
    assert.match(line.message, /enclave\.yaml: server\.tls\.key_file: .*live\.key is not the private key of the certificate in .*live\.crt \(CN=localhost\)$/);
    assert.doesNotMatch(result.stdout, /Listening/);
  });

  it('with server.tls.client_ca_file (relative to the file), requires client certificates and says so', async () => {
    copyFileSync(pki.serverCert, inTls('live.crt'));
    copyFileSync(pki.serverKey, inTls('live.key'));
    copyFileSync(pki.caCert, inTls('clients.pem'));
    const before = readFileSync(enclave.config, 'utf8');
    writeFileSync(enclave.config, before.replace('    key_file: tls/live.key\n', '    key_file: tls/live.key\n    client_ca_file: tls/clients.pem\n'));
    try {
      const server = await startListening(['serve', '--config', enclave.config, '--port', '0']);
      assert.match(server.stdout(), /; clients must present a certificate a CA of .*clients\.pem issued \(SIGHUP reloads the certificate and key and the client CAs\)$/m);
      assert.match(await healthz(server.url, pki.caCert), /^error /, 'no client certificate: refused');
      const ok = await new Promise<string>((resolve) => {
        const req = httpsGet(`${server.url}/healthz`, { ca: readFileSync(pki.caCert), cert: readFileSync(pki.clientOnlyCert), key: readFileSync(pki.serverKey), agent: false }, (res) => {
          res.resume();
          resolve(String(res.statusCode));
        });
        req.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code ?? err.message}`));
      });
      assert.equal(ok, '200');
      assert.equal(await server.stop(), 0);
    } finally {
      writeFileSync(enclave.config, before);
    }
  });
});
