// The log's side of tlog-witness over real sockets: addCheckpoint returns the witness's verified
// cosignature, maps 409 to log_size_conflict with the witness's size, times out, and rejects answers
// that are not cosignatures by the configured key; witnessCosigner catches a witness up after a 409.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { isEnclaveError } from '../../src/core/errors.ts';
import { SIG_TYPE_COSIGNATURE, cosignatureVerifierFromKey, cosignerFromKey, generateNoteKey, noteVerifier, openCheckpoint, proveTree } from '../../src/core/tlog/index.ts';
import { buildWitnessServer } from '../../src/http/witness-server.ts';
import { addCheckpoint, witnessCosigner, type WitnessEndpoint } from '../../src/services/witness-client.ts';
import { WitnessService, parseLogOption } from '../../src/services/witness-service.ts';
import { SqliteWitnessStore } from '../../src/storage/sqlite/sqlite-witness-store.ts';
import { StaticLog } from '../core/tlog/static-log.ts';
import { tempDir } from '../helpers/fixture.ts';

async function listeningWitness(log: StaticLog, name: string): Promise<{ endpoint: WitnessEndpoint; close(): Promise<void> }> {
  const dir = tempDir('enclave-witness-');
  const key = generateNoteKey(name, SIG_TYPE_COSIGNATURE);
  const store = new SqliteWitnessStore(join(dir, 'witness.db'));
  const witness = new WitnessService({ store, cosigner: cosignerFromKey(key.skey), logs: parseLogOption(log.vkey) });
  const app = await buildWitnessServer(witness);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return {
    endpoint: { url: `http://127.0.0.1:${port}`, vkey: key.vkey },
    async close() {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A plain HTTP server answering every request with `handler`. */
async function fakeWitness(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

test('addCheckpoint: a verified cosignature, then 409 as log_size_conflict with the witness size', async () => {
  const log = new StaticLog();
  const w = await listeningWitness(log, 'w1.example');
  try {
    log.append(4);
    const first = await log.publish();
    const lines = await addCheckpoint(w.endpoint, 0, [], first);
    const opened = openCheckpoint(first + lines, noteVerifier(log.vkey), { witnesses: [cosignatureVerifierFromKey(w.endpoint.vkey)] });
    assert.equal(opened.cosigners.length, 1);
    log.append(4);
    const second = await log.publish();
    await assert.rejects(addCheckpoint(w.endpoint, 0, [], second), (e: unknown) => isEnclaveError(e, 'log_size_conflict') && e.details?.['size'] === 4);
    // The witness's refusals keep their codes.
    const impostor = new StaticLog(log.origin);
    impostor.append(9);
    await assert.rejects(addCheckpoint(w.endpoint, 4, [], await impostor.publish()), (e: unknown) => isEnclaveError(e, 'log_signature_invalid') && /refused the checkpoint/.test(e.message));
    assert.ok((await addCheckpoint(w.endpoint, 4, await proveTree(8, 4, log.tree), second)).startsWith('\u2014 w1.example '));
  } finally {
    await w.close();
  }
});

test('addCheckpoint: a timeout, an unreachable witness and answers that are not its cosignature are witness_unavailable', async () => {
  const log = new StaticLog();
  log.append(2);
  const note = await log.publish();
  const key = generateNoteKey('w.example', SIG_TYPE_COSIGNATURE);
  const silent = await fakeWitness(() => {});
  const garbage = await fakeWitness((_req, res) => res.end('hello\n'));
  const otherKey = await fakeWitness((req, res) => {
    // A cosignature-shaped line that is not by the configured key.
    const other = cosignerFromKey(generateNoteKey('w.example', SIG_TYPE_COSIGNATURE).skey);
    req.resume();
    req.on('end', () => res.end(`\u2014 w.example ${Buffer.from([...new Uint8Array(4), ...other.sign(new TextEncoder().encode('x'))]).toString('base64')}\n`));
  });
  const teapot = await fakeWitness((_req, res) => {
    res.statusCode = 418;
    res.end('no');
  });
  try {
    const unavailable = (pattern: RegExp) => (e: unknown) => isEnclaveError(e, 'witness_unavailable') && pattern.test(e.message);
    await assert.rejects(addCheckpoint({ url: silent.url, vkey: key.vkey }, 0, [], note, { timeoutMs: 200 }), unavailable(/no answer within 200 ms/));
    await assert.rejects(addCheckpoint({ url: garbage.url, vkey: key.vkey }, 0, [], note), unavailable(/no valid cosignature/));
    await assert.rejects(addCheckpoint({ url: otherKey.url, vkey: key.vkey }, 0, [], note), unavailable(/no valid cosignature/));
    await assert.rejects(addCheckpoint({ url: teapot.url, vkey: key.vkey }, 0, [], note), unavailable(/answered HTTP 418/));
    await assert.rejects(addCheckpoint({ url: 'http://127.0.0.1:1', vkey: key.vkey }, 0, [], note), unavailable(/cannot be reached/));
  } finally {
    await Promise.all([silent, garbage, otherKey, teapot].map((f) => closeServer(f.server)));
  }
});

test('addCheckpoint: an endless answer is refused past 64 KiB, not read whole', async () => {
  const log = new StaticLog();
  log.append(2);
  const note = await log.publish();
  const key = generateNoteKey('w.example', SIG_TYPE_COSIGNATURE);
  let written = 0;
  const flood = await fakeWitness((req, res) => {
    req.resume();
    const chunk = Buffer.alloc(64 * 1024, 'a');
    const pump = (): void => {
      while (written < 512 * 1024 * 1024) {
        written += chunk.byteLength;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('close', () => res.removeAllListeners('drain'));
    pump();
  });
  try {
    await assert.rejects(addCheckpoint({ url: flood.url, vkey: key.vkey }, 0, [], note), (e: unknown) => isEnclaveError(e, 'witness_unavailable') && /larger than 65536 bytes/.test(e.message));
    assert.ok(written < 64 * 1024 * 1024, `the witness wrote ${written} bytes before the log stopped reading`);
  } finally {
    await closeServer(flood.server);
  }
});

test('witnessCosigner: every witness cosigns; one that lost track is caught up after its 409; failures are reported, not fatal', async () => {
  const log = new StaticLog();
  const w1 = await listeningWitness(log, 'w1.example');
  const w2 = await listeningWitness(log, 'w2.example');
  const down: WitnessEndpoint = { url: 'http://127.0.0.1:1', vkey: generateNoteKey('w3.example', SIG_TYPE_COSIGNATURE).vkey };
  const errors: string[] = [];
  try {
    const previous = (size: number) => ({ size, proof: (from: number) => proveTree(log.tree.size, from, log.tree) });
    // w2 already cosigned size 3 through another log process: this cosigner believes it knows nothing.
    log.append(3);
    const at3 = await log.publish();
    await addCheckpoint(w2.endpoint, 0, [], at3);
    const cosign = witnessCosigner([w1.endpoint, w2.endpoint, down], { onError: (err, w) => errors.push(`${w.url}: ${String(err)}`), timeoutMs: 2000 });
    log.append(5);
    const note = await log.publish();
    const cosigned = await cosign(note, previous(0));
    const witnesses = [w1.endpoint, w2.endpoint].map((w) => cosignatureVerifierFromKey(w.vkey));
    assert.deepEqual(openCheckpoint(cosigned, noteVerifier(log.vkey), { witnesses }).cosigners.map((w) => w.name), ['w1.example', 'w2.example']);
    assert.equal(errors.length, 1);
    assert.match(errors[0] as string, /witness_unavailable|cannot be reached/);
    // Next round: both witnesses are asked from the size they cosigned (8).
    log.append(1);
    const again = await cosign(await log.publish(), previous(8));
    assert.equal(openCheckpoint(again, noteVerifier(log.vkey), { witnesses }).cosigners.length, 2);
  } finally {
    await w1.close();
    await w2.close();
  }
});
