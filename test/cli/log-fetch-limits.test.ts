// A hostile log server against `enclave log verify`: a resource larger than any valid one (an endless
// checkpoint, an endless entry bundle, a gzip bomb) is refused once the size it may have is passed,
// with one line, instead of being read whole into memory.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { runCli } from '../../src/cli/program.ts';
import { StaticLog } from '../core/tlog/static-log.ts';
import { memoryIo, oneErrorLine } from './helpers.ts';

const MiB = 1024 * 1024;
let server: Server;
let base = '';
let log: StaticLog;
/** Bytes the endless answers wrote before the client stopped reading. */
let written = 0;
let hostile: (path: string, res: ServerResponse) => boolean = () => false;

/** Writes up to `limit` bytes of `fill`, as fast as the client reads them. */
function endless(res: ServerResponse, limit: number): void {
  const chunk = Buffer.alloc(64 * 1024, 'a');
  res.writeHead(200, { 'content-type': 'application/octet-stream' });
  const pump = (): void => {
    while (written < limit) {
      written += chunk.byteLength;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end();
  };
  res.on('close', () => res.removeAllListeners('drain'));
  pump();
}

before(async () => {
  log = new StaticLog();
  log.append(10);
  await log.publish();
  server = createServer((req, res) => {
    const path = (req.url ?? '').replace(/^\/log\//, '');
    if (hostile(path, res)) return;
    const data = log.resources.get(path);
    if (data === undefined) return void res.writeHead(404).end();
    res.writeHead(200).end(Buffer.from(data));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/log`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function verify(): Promise<{ code: string; message: string }> {
  const io = memoryIo();
  const code = await runCli(['log', 'verify', '--url', base, '--vkey', log.vkey], io);
  await new Promise((r) => setImmediate(r));
  assert.equal(code, 1, io.err());
  return oneErrorLine({ code, signal: null, stdout: '', stderr: io.err() });
}

test('an endless checkpoint is refused past the note size limit, not read whole', async () => {
  written = 0;
  hostile = (path, res) => path === 'checkpoint' && (endless(res, 512 * MiB), true);
  const failure = await verify();
  assert.equal(failure.code, 'bad_response');
  assert.match(failure.message, /checkpoint answered more than 1,048,576 bytes/);
  assert.ok(written < 64 * MiB, `the server wrote ${written} bytes before the client stopped`);
});

test('an endless entry bundle is refused past the largest bundle (256 entries of 64 KiB), not read whole', async () => {
  written = 0;
  hostile = (path, res) => path === 'tile/entries/000.p/10' && (endless(res, 512 * MiB), true);
  const failure = await verify();
  assert.equal(failure.code, 'bad_response');
  assert.match(failure.message, /tile\/entries\/000\.p\/10 answered more than 16,777,472 bytes/);
  assert.ok(written < 64 * MiB, `the server wrote ${written} bytes before the client stopped`);
});

test('a gzip bomb is measured decompressed: a small answer that inflates past the limit is refused', async () => {
  const bomb = gzipSync(Buffer.alloc(64 * MiB));
  assert.ok(bomb.byteLength < MiB);
  hostile = (path, res) => path === 'tile/0/000.p/10' && (res.writeHead(200, { 'content-encoding': 'gzip' }).end(bomb), true);
  const failure = await verify();
  assert.equal(failure.code, 'bad_response');
  assert.match(failure.message, /tile\/0\/000\.p\/10 answered more than 8,192 bytes/);
});
