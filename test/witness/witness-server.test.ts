// The witness (C2SP tlog-witness add-checkpoint) over HTTP, in-process: it cosigns only checkpoints
// signed by a configured log and consistent with the last one it cosigned, answers the spec's statuses,
// refuses split views and rollbacks, keeps evidence, and its state survives a restart (SQLite file).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import {
  SIG_TYPE_COSIGNATURE,
  cosignatureVerifierFromKey,
  cosignerFromKey,
  formatAddCheckpoint,
  formatCheckpoint,
  generateNoteKey,
  openCheckpoint,
  noteVerifier,
  proveTree,
  signNote,
} from '../../src/core/tlog/index.ts';
import { buildWitnessServer } from '../../src/http/witness-server.ts';
import { WitnessService, parseLogOption } from '../../src/services/witness-service.ts';
import { SqliteWitnessStore } from '../../src/storage/sqlite/sqlite-witness-store.ts';
import { StaticLog } from '../core/tlog/static-log.ts';
import { entry } from '../core/tlog/fixtures.ts';
import { tempDir } from '../helpers/fixture.ts';

const WITNESS = generateNoteKey('witness.example/w1', SIG_TYPE_COSIGNATURE);

interface Rig {
  readonly dir: string;
  readonly store: SqliteWitnessStore;
  readonly witness: WitnessService;
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

async function rig(logs: readonly StaticLog[], dir = tempDir('enclave-witness-')): Promise<Rig> {
  const store = new SqliteWitnessStore(join(dir, 'witness.db'));
  const map = new Map<string, string[]>();
  for (const l of logs) parseLogOption(`${l.origin}=${l.vkey}`, map);
  const witness = new WitnessService({ store, cosigner: cosignerFromKey(WITNESS.skey), logs: map });
  const app = await buildWitnessServer(witness);
  return {
    dir,
    store,
    witness,
    app,
    async close() {
      await app.close();
      await store.close();
    },
  };
}

async function withRig(logs: readonly StaticLog[], fn: (r: Rig) => Promise<void>): Promise<void> {
  const r = await rig(logs);
  try {
    await fn(r);
  } finally {
    await r.close();
  }
}

function submit(app: FastifyInstance, oldSize: number, proof: readonly Uint8Array[], checkpoint: string, contentType = 'text/plain'): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/add-checkpoint', headers: { 'content-type': contentType }, payload: formatAddCheckpoint({ oldSize, proof, checkpoint }) });
}

function code(res: LightMyRequestResponse): string | undefined {
  return (JSON.parse(res.body) as { error?: { code?: string } }).error?.code;
}

/** The log's checkpoint with the witness's answer appended must open with the witness's key. */
function assertCosigned(log: StaticLog, checkpoint: string, res: LightMyRequestResponse): void {
  assert.equal(res.statusCode, 200, res.body);
  assert.match(res.headers['content-type'] as string, /^text\/plain/);
  assert.match(res.body, /^— witness\.example\/w1 [A-Za-z0-9+/=]+\n$/);
  const opened = openCheckpoint(checkpoint + res.body, noteVerifier(log.vkey), { witnesses: [cosignatureVerifierFromKey(WITNESS.vkey)] });
  assert.deepEqual(opened.cosigners.map((w) => w.name), ['witness.example/w1']);
}

async function grow(log: StaticLog, n: number): Promise<{ checkpoint: string; proof: (from: number) => Promise<Uint8Array[]> }> {
  log.append(n);
  const checkpoint = await log.publish();
  const size = log.tree.size;
  return { checkpoint, proof: (from) => proveTree(size, from, log.tree) };
}

test('cosigns a first checkpoint from size 0, then each consistent extension', async () => {
  const log = new StaticLog();
  await withRig([log], async (r) => {
    const a = await grow(log, 5);
    assertCosigned(log, a.checkpoint, await submit(r.app, 0, [], a.checkpoint));
    const b = await grow(log, 7);
    assertCosigned(log, b.checkpoint, await submit(r.app, 5, await b.proof(5), b.checkpoint, 'application/octet-stream'));
    // Re-submitting the same checkpoint is answered with a cosignature again.
    assertCosigned(log, b.checkpoint, await submit(r.app, 12, [], b.checkpoint));
    assert.equal((await r.store.latest(log.origin))?.size, 12);
    const info = await r.app.inject({ method: 'GET', url: '/' });
    assert.deepEqual(JSON.parse(info.body), { name: 'witness.example/w1', vkey: WITNESS.vkey, logs: [log.origin] });
  });
});

test('the same checkpoint again with proof lines is 422: the consistency proof between equal sizes is empty (RFC 6962 §2.1.2)', async () => {
  const log = new StaticLog();
  await withRig([log], async (r) => {
    const a = await grow(log, 5);
    const b = await grow(log, 7);
    assert.equal((await submit(r.app, 0, [], a.checkpoint)).statusCode, 200);
    assert.equal((await submit(r.app, 5, await b.proof(5), b.checkpoint)).statusCode, 200);
    const padded = await submit(r.app, 12, await b.proof(5), b.checkpoint);
    assert.equal(padded.statusCode, 422, padded.body);
    assert.equal(code(padded), 'log_proof_invalid');
    assertCosigned(log, b.checkpoint, await submit(r.app, 12, [], b.checkpoint));
  });
});

test('a stale old size is 409 text/x.tlog.size with the witness size; the client can then catch up', async () => {
  const log = new StaticLog();
  await withRig([log], async (r) => {
    const a = await grow(log, 5);
    assert.equal((await submit(r.app, 0, [], a.checkpoint)).statusCode, 200);
    const b = await grow(log, 3);
    const stale = await submit(r.app, 0, [], b.checkpoint);
    assert.equal(stale.statusCode, 409);
    assert.equal(stale.headers['content-type'], 'text/x.tlog.size');
    assert.equal(stale.body, '5\n');
    const ahead = await submit(r.app, 7, await b.proof(7), b.checkpoint);
    assert.equal(ahead.statusCode, 409);
    assert.equal(ahead.body, '5\n');
    assertCosigned(log, b.checkpoint, await submit(r.app, 5, await b.proof(5), b.checkpoint));
  });
});

test('refuses a split view: a different tree of a size it cosigned, or a fork that does not extend it', async () => {
  const log = new StaticLog();
  await withRig([log], async (r) => {
    const a = await grow(log, 10);
    assert.equal((await submit(r.app, 0, [], a.checkpoint)).statusCode, 200);
    // The same key signs another tree of size 10 (entry 9 differs).
    const fork = new StaticLog(log.origin, log.skey);
    fork.append(log.tree.entries.slice(0, 9)).append([entry(999)]);
    const forked = await fork.publish();
    const split = await submit(r.app, 10, [], forked);
    assert.equal(split.statusCode, 409);
    assert.equal(code(split), 'log_rollback');
    assert.match((JSON.parse(split.body) as { error: { message: string } }).error.message, /split view .* size 10 with another root/);
    // A fork that grows to 20 cannot prove consistency with the cosigned 10.
    fork.append(10);
    const forked20 = await fork.publish();
    const bad = await submit(r.app, 10, await proveTree(20, 10, fork.tree), forked20);
    assert.equal(bad.statusCode, 422);
    assert.equal(code(bad), 'log_proof_invalid');
    // A smaller checkpoint after a larger one (a rollback) is refused too.
    const old = new StaticLog(log.origin, log.skey);
    old.append(log.tree.entries.slice(0, 4));
    const small = await old.publish();
    assert.equal((await submit(r.app, 10, [], small)).statusCode, 400);
    assert.equal((await submit(r.app, 4, [], small)).statusCode, 409);
    // The refusals with a valid signature are kept as evidence; the cosigned state did not move.
    const evidence = await r.store.evidence(log.origin);
    assert.deepEqual(evidence.map((e) => e.reason.split(':')[0]), ['log_rollback', 'log_proof_invalid']);
    assert.ok(evidence[0]?.body.includes(forked));
    assert.equal((await r.store.latest(log.origin))?.size, 10);
  });
});

test('a first checkpoint of size 0 must have the empty tree\'s root: another is a split view, 409 (tlog-witness: old size equals the size, roots differ)', async () => {
  const log = new StaticLog();
  await withRig([log], async (r) => {
    const text = formatCheckpoint({ origin: log.origin, size: 0, root: new Uint8Array(32).fill(7), extensions: [] });
    const res = await submit(r.app, 0, [], signNote(text, [log.signer]));
    assert.equal(res.statusCode, 409, res.body);
    assert.equal(code(res), 'log_rollback');
    assert.equal(await r.store.latest(log.origin), undefined);
    // The true empty checkpoint is cosigned.
    assertCosigned(log, await log.publish(), await submit(r.app, 0, [], log.checkpoints[0] ?? ''));
  });
});

test('unknown origin is 404, a bad or missing log signature 403, malformed bodies 400, a bad proof 422', async () => {
  const log = new StaticLog();
  const stranger = new StaticLog('other.example/log');
  await withRig([log], async (r) => {
    const s = await grow(stranger, 3);
    const unknown = await submit(r.app, 0, [], s.checkpoint);
    assert.equal(unknown.statusCode, 404);
    assert.equal(code(unknown), 'unknown_log');
    // The right origin, another key.
    const impostor = new StaticLog(log.origin);
    const i = await grow(impostor, 3);
    const forbidden = await submit(r.app, 0, [], i.checkpoint);
    assert.equal(forbidden.statusCode, 403);
    assert.equal(code(forbidden), 'log_signature_invalid');
    const a = await grow(log, 3);
    const tampered = await submit(r.app, 0, [], a.checkpoint.replace('\n3\n', '\n4\n'));
    assert.equal(tampered.statusCode, 403);
    for (const body of ['', 'old 0\n', 'old x\n\n', `old 01\n\n${a.checkpoint}`, `old 0\nAAAA\n\n${a.checkpoint}`, `old 0\n\n${a.checkpoint.slice(0, 20)}`]) {
      const res = await r.app.inject({ method: 'POST', url: '/add-checkpoint', payload: body, headers: { 'content-type': 'text/plain' } });
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)} -> ${res.body}`);
      assert.equal(code(res), 'invalid_log_data');
    }
    const noType = await r.app.inject({ method: 'POST', url: '/add-checkpoint', payload: 'old 0\n' });
    assert.equal(noType.statusCode, 400);
    assert.equal((await submit(r.app, 5, [], a.checkpoint)).statusCode, 400, 'old size larger than the checkpoint');
    assert.equal((await submit(r.app, 0, [], a.checkpoint)).statusCode, 200);
    const b = await grow(log, 4);
    const wrongProof = await submit(r.app, 3, (await b.proof(3)).reverse(), b.checkpoint);
    assert.equal(wrongProof.statusCode, 422);
    const nonEmpty = await r.app.inject({ method: 'POST', url: '/add-checkpoint', payload: 'x'.repeat(2 * 1024 * 1024) });
    assert.equal(nonEmpty.statusCode, 413);
    const get = await r.app.inject({ method: 'GET', url: '/add-checkpoint' });
    assert.equal(get.statusCode, 405);
    assert.equal(get.headers.allow, 'POST');
    assert.equal((await r.app.inject({ method: 'POST', url: '/nothing-here' })).statusCode, 404);
  });
});

test('the cosigned state is durable: a restarted witness still refuses the split view and wants the old size', async () => {
  const log = new StaticLog();
  const dir = tempDir('enclave-witness-');
  try {
    const first = await rig([log], dir);
    const a = await grow(log, 6);
    assert.equal((await submit(first.app, 0, [], a.checkpoint)).statusCode, 200);
    await first.close();
    const again = await rig([log], dir);
    try {
      const fork = new StaticLog(log.origin, log.skey);
      fork.append(log.tree.entries.slice(0, 5)).append([entry(77)]);
      assert.equal(code(await submit(again.app, 6, [], await fork.publish())), 'log_rollback');
      const b = await grow(log, 2);
      const stale = await submit(again.app, 0, [], b.checkpoint);
      assert.equal(stale.body, '6\n');
      assertCosigned(log, b.checkpoint, await submit(again.app, 6, await b.proof(6), b.checkpoint));
    } finally {
      await again.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('concurrent submissions from the same old size: exactly one is cosigned, the other gets 409', async () => {
  const log = new StaticLog();
  await withRig([log], async (r) => {
    const a = await grow(log, 2);
    assert.equal((await submit(r.app, 0, [], a.checkpoint)).statusCode, 200);
    const b = await grow(log, 2);
    const c = await grow(log, 2);
    const [rb, rc] = await Promise.all([submit(r.app, 2, await b.proof(2), b.checkpoint), submit(r.app, 2, await c.proof(2), c.checkpoint)]);
    assert.deepEqual([rb.statusCode, rc.statusCode].sort(), [200, 409]);
    const winner = rb.statusCode === 200 ? 4 : 6;
    assert.equal((await r.store.latest(log.origin))?.size, winner);
    assert.equal((rb.statusCode === 409 ? rb : rc).body, `${winner}\n`);
  });
});

test('the --log option: origin=vkey or a bare vkey, several keys per origin', () => {
  const a = generateNoteKey('log.example/a');
  const b = generateNoteKey('log.example/a');
  const map = parseLogOption(`log.example/a=${a.vkey}`);
  parseLogOption(b.vkey, map);
  parseLogOption(`renamed.example=${a.vkey}`, map);
  assert.deepEqual([...map], [['log.example/a', [a.vkey, b.vkey]], ['renamed.example', [a.vkey]]]);
  assert.throws(() => parseLogOption('log.example/a=not-a-key'));
  assert.throws(() => parseLogOption(WITNESS.vkey), /not an Ed25519 note key/);
});
