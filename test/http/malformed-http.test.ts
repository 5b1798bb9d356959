// Requests that are not well-formed HTTP, sent over a real socket (fastify.inject never reaches Node's
// parser): each is refused in the API's error shape with a documented code, never Fastify's body without
// one, and nothing is written; a Content-Type given twice is refused as ambiguous.
import assert from 'node:assert/strict';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ERROR_CODES } from '../../src/core/errors.ts';
import { errorCode, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';

interface RawResponse {
  readonly status: number;
  readonly headers: string;
  readonly body: string;
}

describe('malformed HTTP', () => {
  let h: HttpFixture;
  let port = 0;
  before(async () => {
    h = await makeHttpFixture();
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    port = (h.app.server.address() as AddressInfo).port;
  });
  after(async () => h.close());

  /** Sends `text` as is and reads until the server closes the connection (each request here makes it close). */
  function send(text: string): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(text));
      const chunks: Buffer[] = [];
      socket.on('data', (d: Buffer) => chunks.push(d));
      socket.on('error', reject);
      socket.on('close', () => resolve(rawResponse(Buffer.concat(chunks).toString('utf8'))));
    });
  }

  /** The last response of `all` (a 100 Continue before it stays in the headers). */
  function rawResponse(all: string): RawResponse {
    // No body here holds a blank line.
    const at = all.lastIndexOf('\r\n\r\n');
    const status = [...all.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].at(-1)?.[1];
    return { status: Number(status), headers: all.slice(0, at), body: all.slice(at + 4) };
  }

  const auth = () => `Authorization: Bearer ${h.tokens.service}\r\nEnclave-Purpose: account\r\n`;
  const subject = (id: string) => `{"id":"${id}","country":"US"}`;

  it('answers every request the parser refuses with the API\'s error shape and a documented code, and writes nothing', async () => {
    const body = subject('smuggled');
    const cases: Record<string, string> = {
      'Content-Length and Transfer-Encoding': `POST /v1/subjects HTTP/1.1\r\nHost: x\r\n${auth()}Content-Type: application/json\r\nContent-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
      'two differing Content-Lengths': `POST /v1/subjects HTTP/1.1\r\nHost: x\r\n${auth()}Content-Type: application/json\r\nContent-Length: ${body.length}\r\nContent-Length: 3\r\n\r\n${body}`,
      'a coding other than chunked': `POST /v1/subjects HTTP/1.1\r\nHost: x\r\n${auth()}Content-Type: application/json\r\nTransfer-Encoding: gzip\r\n\r\n${body}`,
      'a chunk size that is not hex': `POST /v1/subjects HTTP/1.1\r\nHost: x\r\n${auth()}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n${body}\r\n0\r\n\r\n`,
      'a header name with a space': `GET /v1/whoami HTTP/1.1\r\nHost: x\r\n${auth()}Bad Header: y\r\n\r\n`,
      'a method that is no token': `G@T /healthz HTTP/1.1\r\nHost: x\r\n\r\n`,
      'a NUL in the path': `GET /v1/subjects/a\u0000b HTTP/1.1\r\nHost: x\r\n${auth()}\r\n`,
    };
    for (const [name, text] of Object.entries(cases)) assertRefused(await send(text), 400, 'invalid_request', name);
    // Node's own statuses for these (RFC 6585 §5): the request line counts with the header fields.
    const tooLarge: Record<string, string> = {
      'header fields larger than the server takes': `POST /v1/subjects HTTP/1.1\r\nHost: x\r\n${auth()}Content-Type: application/json\r\nContent-Length: ${body.length}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n${body}`,
      'a request line larger than the server takes': `GET /v1/subjects/ann?${'a=1&'.repeat(5000)} HTTP/1.1\r\nHost: x\r\n${auth()}\r\n`,
    };
    for (const [name, text] of Object.entries(tooLarge)) assertRefused(await send(text), 431, 'headers_too_large', name);
    assert.equal(errorCode(await h.call('service', 'GET', '/v1/subjects/smuggled')), 'subject_not_found', 'nothing was registered');
  });

  function assertRefused(res: RawResponse, status: number, code: string, name: string, close = true): void {
    assert.equal(res.status, status, `${name}: ${res.headers}`);
    assert.match(res.headers, /^content-type: application\/json; charset=utf-8$/im, name);
    if (close) assert.match(res.headers, /^connection: close$/im, name);
    const parsed = JSON.parse(res.body) as { error?: { code?: string; message?: string } };
    assert.equal(parsed.error?.code, code, `${name}: ${res.body}`);
    assert.ok(Object.hasOwn(ERROR_CODES, parsed.error.code), name);
    assert.equal(typeof parsed.error.message, 'string', name);
    assert.ok(!res.body.includes(h.tokens.service), `${name}: the token is not echoed`);
  }

  it('refuses an HTTP/1.1 request without Host, with two, or with one that names no host (RFC 9112 §3.2), and registers nothing', async () => {
    const body = subject('hostless');
    const post = (hosts: string) => `POST /v1/subjects HTTP/1.1\r\n${hosts}${auth()}Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
    for (const [name, hosts] of [
      ['no Host', ''],
      ['two Hosts', 'Host: a\r\nHost: b\r\n'],
      ['two equal Hosts', 'Host: a\r\nhost: a\r\n'],
      ['a Host with a path', 'Host: a/b\r\n'],
      ['a Host with user information', 'Host: user@a\r\n'],
      ['a Host with a port that is no number', 'Host: a:b\r\n'],
    ] as const) {
      const res = await send(post(hosts));
      assertRefused(res, 400, 'invalid_request', name);
      assert.deepEqual((JSON.parse(res.body) as { error: { details?: unknown } }).error.details, { field: 'Host' }, name);
    }
    assert.equal(errorCode(await h.call('service', 'GET', '/v1/subjects/hostless')), 'subject_not_found', 'nothing was registered');
    // What the grammar allows is served: a name with a port, an IPv6 literal, an empty Host, and HTTP/1.0 without one.
    for (const hosts of ['Host: enclave.example:8443\r\n', 'Host: [::1]:80\r\n', 'Host: \r\n']) {
      const res = await send(`GET /healthz HTTP/1.1\r\n${hosts}Connection: close\r\n\r\n`);
      assert.equal(res.status, 200, `${hosts}: ${res.body}`);
    }
    assert.equal((await send('GET /healthz HTTP/1.0\r\n\r\n')).status, 200);
  });

  it('refuses an Expect it cannot meet with 417 in the API\'s error shape and does not serve the request; 100-continue is met', async () => {
    const body = subject('expected');
    const res = await send(`POST /v1/subjects HTTP/1.1\r\nHost: x\r\n${auth()}Expect: 200-ok\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    assertRefused(res, 417, 'expectation_failed', 'Expect: 200-ok');
    assert.equal(errorCode(await h.call('service', 'GET', '/v1/subjects/expected')), 'subject_not_found', 'nothing was registered');
    const met = await send(`POST /v1/subjects HTTP/1.1\r\nHost: x\r\n${auth()}Expect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    assert.match(met.headers, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 /, met.headers);
  });

  it('answers a request that did not arrive whole in time with 408 in the API\'s error shape', async () => {
    // What Node does when server.requestTimeout passes (its check runs every 30 s by default): emits
    // clientError with ERR_HTTP_REQUEST_TIMEOUT on the connection.
    const server = h.app.server;
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const result = new Promise<RawResponse>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: `));
      const chunks: Buffer[] = [];
      socket.on('data', (d: Buffer) => chunks.push(d));
      socket.on('error', reject);
      socket.on('close', () => resolve(rawResponse(Buffer.concat(chunks).toString('utf8'))));
    });
    const timeout = Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });
    server.emit('clientError', timeout, await accepted);
    assertRefused(await result, 408, 'request_timeout', 'timeout');
  });

  it('counts in /metrics the requests refused before any route: by the parser, the router or an Expect', async () => {
    const counted = async () => {
      const res = await h.app.inject({ method: 'GET', url: '/metrics' });
      const count = (labels: string) => Number(new RegExp(`^enclave_http_requests_total\\{${labels}\\} (\\d+)$`, 'm').exec(res.body)?.[1] ?? 0);
      return {
        parser: count('route="unparsed",method="unknown",status="400"'),
        tooLarge: count('route="unparsed",method="unknown",status="431"'),
        uri: count('route="unmatched",method="GET",status="414"'),
        expect: count('route="unmatched",method="POST",status="417"'),
      };
    };
    const before = await counted();
    await send('G@T /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await send(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    await send(`GET /v1/subjects/${'a'.repeat(300)} HTTP/1.1\r\nHost: x\r\n${auth()}Connection: close\r\n\r\n`);
    await send('POST /v1/subjects HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 0\r\n\r\n');
    assert.deepEqual(await counted(), { parser: before.parser + 1, tooLarge: before.tooLarge + 1, uri: before.uri + 1, expect: before.expect + 1 });
  });

  it('refuses a Content-Type given twice, whichever comes first, and registers nothing', async () => {
    const body = subject('twice');
    for (const [first, second] of [
      ['application/json', 'text/plain'],
      ['text/plain', 'application/json'],
      ['application/json', 'application/json'],
    ]) {
      const res = await send(`POST /v1/subjects HTTP/1.1\r\nHost: x\r\n${auth()}Content-Type: ${first}\r\nContent-Type: ${second}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      assert.equal(res.status, 400, `${first}, ${second}: ${res.body}`);
      assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, 'invalid_request');
    }
    assert.equal(errorCode(await h.call('service', 'GET', '/v1/subjects/twice')), 'subject_not_found');
    // One Content-Type is accepted as before.
    const one = await send(`POST /v1/subjects HTTP/1.1\r\nHost: x\r\n${auth()}Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    assert.equal(one.status, 201, one.body);
  });
});
