// Commands that talk to a person at a terminal, run in-process with a fake terminal against a stand-in
// API: erase asks for the subject id before anything is sent; unseal prompts for the share without echo.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../src/cli/program.ts';
import { memoryIo } from './helpers.ts';

function fakeTty(): PassThrough & { isTTY: boolean; setRawMode(mode: boolean): void } {
  return Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => undefined });
}

describe('interactive commands', () => {
  let server: Server;
  let url: string;
  const requests: { method: string; url: string; body: string }[] = [];

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        requests.push({ method: req.method ?? '', url: req.url ?? '', body });
        res.setHeader('content-type', 'application/json');
        if (req.method === 'DELETE') res.end(JSON.stringify({ subject: 'kim', records: 3, erased_at: '2025-01-01T00:00:00.000Z' }));
        else res.end(JSON.stringify({ initialized: true, sealed: true, threshold: 2, shares: 3, progress: 1, entered: ['alice'] }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('erase on a terminal erases only after the subject id is typed back', async () => {
    const stdin = fakeTty();
    const io = memoryIo({ stdin });
    const done = runCli(['erase', 'kim', '--server', url, '--token', 'enc_x'], io);
    setTimeout(() => stdin.write('kim\r'), 50);
    assert.equal(await done, 0, io.err());
    assert.match(io.err(), /Erase kim\? .*Type the subject id to confirm:/);
    assert.match(io.out(), /^erased kim: their data key is destroyed; 3 records can never be read again\n$/);
    assert.deepEqual(requests.map((r) => `${r.method} ${r.url}`), ['DELETE /v1/subjects/kim']);
  });

  it('erase on a terminal with another answer sends nothing and fails with one line', async () => {
    requests.length = 0;
    const stdin = fakeTty();
    const io = memoryIo({ stdin });
    const done = runCli(['erase', 'kim', '--server', url, '--token', 'enc_x'], io);
    setTimeout(() => stdin.write('yes\r'), 50);
    assert.equal(await done, 1);
    assert.match(io.err(), /\nenclave: aborted: not erased: the answer did not match "kim"\n$/);
    assert.deepEqual(requests, []);
  });

  it('unseal on a terminal prompts without echo and sends the share', async () => {
    requests.length = 0;
    const stdin = fakeTty();
    const io = memoryIo({ stdin });
    const done = runCli(['unseal', '--server', url], io);
    setTimeout(() => stdin.write('enclave-share-v1-typed\r'), 50);
    assert.equal(await done, 0, io.err());
    assert.equal(io.err(), 'Unseal share (input is hidden): \n');
    assert.equal(io.out(), '1/2 shares entered; sealed (entered: alice)\n');
    assert.deepEqual(requests, [{ method: 'POST', url: '/v1/sys/unseal', body: '{"share":"enclave-share-v1-typed"}' }]);
  });
});
