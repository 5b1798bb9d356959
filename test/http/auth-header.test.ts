// The Authorization header in its odd forms: the scheme is case-insensitive and white space around the
// token is tolerated (RFC 9110 §11.1), but a request with two Authorization headers is ambiguous (Node
// keeps the first, a proxy in front may check the last) and is refused; every refusal is a 401 with the
// code `unauthenticated` that never echoes what was sent.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { errorCode, json, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';

describe('the Authorization header', () => {
  let h: HttpFixture;
  before(async () => {
    h = await makeHttpFixture();
  });
  after(async () => {
    await h.close();
  });
  const whoami = (headers: Record<string, string | string[]>) => h.app.inject({ method: 'GET', url: '/v1/whoami', headers: headers as Record<string, string> });

  it('accepts the scheme in any case and white space around the token', async () => {
    const t = h.tokens.officer;
    for (const header of [`Bearer ${t}`, `bearer ${t}`, `BEARER ${t}`, `Bearer  ${t}`, `Bearer\t${t}`, `Bearer ${t} `]) {
      const res = await whoami({ authorization: header });
      assert.equal(res.statusCode, 200, `${JSON.stringify(header)}: ${res.body}`);
      assert.equal(json(res)['principal'], 'officer-1');
    }
  });

  it('refuses other forms with 401 unauthenticated, never echoing the header', async () => {
    const t = h.tokens.officer;
    for (const header of [`Basic ${t}`, t, `Bearer ${t},Bearer ${t}`, `Bearer ${t} x`, 'Bearer ', `Bearer ${t.slice(0, -1)}`, `Bearer ${t}x`, `Bearer ${'a'.repeat(20_000)}`]) {
      const res = await whoami({ authorization: header });
      assert.equal(res.statusCode, 401, `${JSON.stringify(header.slice(0, 80))}: ${res.body}`);
      assert.equal(errorCode(res), 'unauthenticated');
      assert.ok(!res.body.includes(t.slice(4, 20)), 'the token is not echoed');
    }
  });

  it('refuses two Authorization headers, whichever token comes first', async () => {
    for (const pair of [
      [h.tokens.officer, h.tokens.parent],
      [h.tokens.parent, h.tokens.officer],
      [h.tokens.officer, h.tokens.officer],
    ]) {
      const res = await whoami({ authorization: pair.map((t) => `Bearer ${t}`) });
      assert.equal(res.statusCode, 401, res.body);
      assert.equal(errorCode(res), 'unauthenticated');
    }
  });

  it('refuses two Authorization headers over a real socket too', async () => {
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = h.app.server.address() as AddressInfo;
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/v1/whoami', method: 'GET' });
      // Two header lines; Node's server keeps the first in request.headers and drops the second.
      req.setHeader('authorization', [`Bearer ${h.tokens.parent}`, `Bearer ${h.tokens.officer}`]);
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 401);
  });
});
