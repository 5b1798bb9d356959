// Requests that reach the server while it drains (on a kept-alive connection, or pipelined) are
// answered in the API's error shape with a documented code, and their connection is closed. Fastify's
// own answer had no code. The drained server's request handler is served here by a listener of the
// test's own, which is what such a connection reaches once close() has begun.
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { makeHttpFixture } from '../helpers/http.ts';

void describe('a server that is shutting down', () => {
  void it('answers 503 shutting_down in the API error shape, on every route, and closes the connection', async () => {
    const h = await makeHttpFixture();
    await h.app.close();
    const listener = createServer((req, res) => h.app.routing(req, res));
    try {
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
      const { port } = listener.address() as AddressInfo;
      for (const path of ['/healthz', '/v1/collections/users/records/nobody', '/no/such/route']) {
        const answer = await new Promise<{ status: number; body: string; connection: string | undefined }>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port, path, headers: { authorization: `Bearer ${h.tokens.service}`, 'enclave-purpose': 'account' } }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
          });
          req.on('error', reject);
          req.end();
        });
        assert.equal(answer.status, 503, path);
        assert.deepEqual(JSON.parse(answer.body), { error: { code: 'shutting_down', message: 'the server is shutting down and takes no new requests' } }, path);
        assert.equal(answer.connection, 'close', path);
      }
    } finally {
      await new Promise((resolve) => listener.close(resolve));
      await h.close();
    }
  });
});
