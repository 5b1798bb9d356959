// fail.ts turns every error into one line and an exit code; the API client turns the server's error
// JSON into the same EnclaveError the server threw.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CommanderError } from 'commander';
import { ApiClient, normalizeServerUrl } from '../../src/cli/api-client.ts';
import { CliError, describeFailure, oneLine, reportFailure, usageError } from '../../src/cli/fail.ts';
import { EnclaveError } from '../../src/core/errors.ts';

describe('describeFailure', () => {
  it('an EnclaveError keeps its code and exits 1', () => {
    assert.deepEqual(describeFailure(new EnclaveError('sealed', 'the enclave is sealed')), { code: 'sealed', message: 'the enclave is sealed', exitCode: 1 });
  });

  it('a usage error exits 2 with invalid_argument', () => {
    assert.deepEqual(describeFailure(usageError('--x is wrong')), { code: 'invalid_argument', message: '--x is wrong', exitCode: 2 });
  });

  it('commander errors are usage errors without their "error:" prefix', () => {
    const f = describeFailure(new CommanderError(1, 'commander.unknownCommand', "error: unknown command 'x'\n(Did you mean y?)"));
    assert.equal(f.exitCode, 2);
    assert.equal(f.code, 'invalid_argument');
    assert.equal(f.message, "unknown command 'x'; (Did you mean y?) (see --help)");
  });

  it('help and version end with exit 0 and print nothing', () => {
    assert.deepEqual(describeFailure(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)')), { code: null, message: '', exitCode: 0 });
    assert.deepEqual(describeFailure(new CommanderError(0, 'commander.version', '0.1.0')), { code: null, message: '', exitCode: 0 });
  });

  it('an unexpected error is internal, exit 1, with its errno code', () => {
    const err = Object.assign(new Error('permission denied, open /x'), { code: 'EACCES' });
    assert.deepEqual(describeFailure(err), { code: 'internal', message: 'EACCES: permission denied, open /x', exitCode: 1 });
    assert.deepEqual(describeFailure('a string'), { code: 'internal', message: 'a string', exitCode: 1 });
  });

  it('a multi-line message (a configuration with several problems) becomes one line', () => {
    const err = new EnclaveError('invalid_config', 'a.yaml: 2 problems:\n  - server.port must be an integer\n  - seal.threshold must be >= 2');
    assert.equal(describeFailure(err).message, 'a.yaml: 2 problems: server.port must be an integer; seal.threshold must be >= 2');
  });

  it('control characters (terminal escapes) never reach the terminal: white space collapses, the rest is escaped', () => {
    assert.equal(oneLine('bad\u001b[31m red\u0007 \r\n done\t\u009b2J \u202eevil'), 'bad\\u001b[31m red\\u0007; done \\u009b2J \\u202eevil');
  });

  it('reportFailure writes exactly one line', () => {
    const written: string[] = [];
    const code = reportFailure(new CliError('unreachable', 'cannot reach x'), (l) => written.push(l));
    assert.equal(code, 1);
    assert.deepEqual(written, ['enclave: unreachable: cannot reach x\n']);
  });
});

describe('ApiClient', () => {
  let server: Server;
  let base: string;
  const seen: { auth: string | undefined; body: string }[] = [];

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        seen.push({ auth: req.headers.authorization, body });
        if (req.url === '/enclave-error') {
          res.writeHead(410, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'subject_erased', message: 'subject "x" was erased' } }));
        } else if (req.url === '/unknown-code') {
          res.writeHead(418, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'teapot', message: 'short and stout' } }));
        } else if (req.url === '/proxy') {
          res.writeHead(502, { 'content-type': 'text/html' }).end('<html>bad gateway</html>');
        } else if (req.url === '/empty') {
          res.writeHead(204).end();
        } else {
          res.writeHead(200, { 'content-type': 'application/json', etag: '"3"' }).end(JSON.stringify({ ok: true }));
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('sends the bearer token and JSON, and returns the body and ETag', async () => {
    const res = await new ApiClient(base, 'enc_secret').post<{ ok: boolean }>('/ok', { a: 1 });
    assert.deepEqual(res.body, { ok: true });
    assert.equal(res.etag, '"3"');
    assert.deepEqual(seen.at(-1), { auth: 'Bearer enc_secret', body: '{"a":1}' });
  });

  it('does not send the token where auth is off', async () => {
    await new ApiClient(base, 'enc_secret').get('/ok', { auth: false });
    assert.equal(seen.at(-1)?.auth, undefined);
  });

  it('turns the error JSON into an EnclaveError with the server\'s code and message', async () => {
    await assert.rejects(new ApiClient(base, 'enc_secret').get('/enclave-error'), (err: unknown) => {
      assert.ok(err instanceof EnclaveError);
      assert.equal(err.code, 'subject_erased');
      assert.equal(err.message, 'subject "x" was erased');
      return true;
    });
  });

  it('an unknown code or a non-JSON answer is a bad_response that never shows the token', async () => {
    for (const path of ['/unknown-code', '/proxy']) {
      await assert.rejects(new ApiClient(base, 'enc_secret').get(path), (err: unknown) => {
        assert.ok(err instanceof CliError);
        assert.equal(err.code, 'bad_response');
        assert.doesNotMatch(err.message, /enc_secret/);
        return true;
      });
    }
  });

  it('an empty answer has no body', async () => {
    const res = await new ApiClient(base, 'enc_secret').request('DELETE', '/empty');
    assert.equal(res.status, 204);
    assert.equal(res.body, undefined);
  });

  it('a server that is down is unreachable, with the address in the message', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await assert.rejects(new ApiClient(`http://127.0.0.1:${port}`, 'enc_secret').get('/x'), (err: unknown) => {
      assert.ok(err instanceof CliError);
      assert.equal(err.code, 'unreachable');
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}.*ECONNREFUSED`));
      assert.doesNotMatch(err.message, /enc_secret/);
      return true;
    });
  });

  it('server URLs: http(s) only, no credentials, trailing slashes dropped', () => {
    assert.equal(normalizeServerUrl('http://localhost:8700/'), 'http://localhost:8700');
    assert.equal(normalizeServerUrl('https://vault.example.com/enclave/'), 'https://vault.example.com/enclave');
    assert.throws(() => normalizeServerUrl('ftp://x'), (e: unknown) => e instanceof CliError && e.exitCode === 2);
    assert.throws(() => normalizeServerUrl('http://user:pw@x'), (e: unknown) => e instanceof CliError && e.exitCode === 2);
    assert.throws(() => normalizeServerUrl('localhost:8700x'), (e: unknown) => e instanceof CliError && e.exitCode === 2);
  });
});
