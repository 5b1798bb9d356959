// Requests that are not well-formed HTTP, sent over a real socket (fastify.inject never reaches Node's
// parser): each is refused in the API's error shape with a documented code, never Fastify's body without
// one, and nothing is written; a Content-Type given twice is refused as ambiguous.
import assert from 'node:assert/strict';
import { connect, type AddressInfo } from 'node:net';
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
      socket.on('close', () => {
        const all = Buffer.concat(chunks).toString('utf8');
        const at = all.indexOf('\r\n\r\n');
        resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(all)?.[1]), headers: all.slice(0, at), body: all.slice(at + 4) });
      });
    });
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
      'header fields larger than the server takes': `GET /v1/whoami HTTP/1.1\r\nHost: x\r\n${auth()}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      'a request line larger than the server takes': `GET /v1/subjects/ann?${'a=1&'.repeat(5000)} HTTP/1.1\r\nHost: x\r\n${auth()}\r\n`,
    };
    for (const [name, text] of Object.entries(cases)) {
      const res = await send(text);
      assert.equal(res.status, 400, `${name}: ${res.headers}`);
      assert.match(res.headers, /^content-type: application\/json; charset=utf-8$/im, name);
      assert.match(res.headers, /^connection: close$/im, name);
      const parsed = JSON.parse(res.body) as { error?: { code?: string; message?: string } };
      assert.equal(parsed.error?.code, 'invalid_request', `${name}: ${res.body}`);
      assert.ok(Object.hasOwn(ERROR_CODES, parsed.error.code), name);
      assert.equal(typeof parsed.error.message, 'string', name);
      assert.ok(!res.body.includes(h.tokens.service), `${name}: the token is not echoed`);
    }
    assert.equal(errorCode(await h.call('service', 'GET', '/v1/subjects/smuggled')), 'subject_not_found', 'nothing was registered');
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
