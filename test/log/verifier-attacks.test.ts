// Attacks on the outside verifier (`verifyLog`) and the witness by a party that controls the log server,
// its files or its key: each must be refused with a typed error, never a forged or forked history accepted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { isEnclaveError } from '../../src/core/errors.ts';
import {
  SIG_TYPE_COSIGNATURE,
  cosignerFromKey,
  encodeBase64,
  encodeEntryBundle,
  formatAddCheckpoint,
  formatCheckpoint,
  formatVerifierKey,
  generateNoteKey,
  keyId,
  parseVerifierKey,
  signNote,
  signatureLines,
} from '../../src/core/tlog/index.ts';
import { verifyLog } from '../../src/services/log-verifier.ts';
import { WitnessService, parseLogOption } from '../../src/services/witness-service.ts';
import { SqliteWitnessStore } from '../../src/storage/sqlite/sqlite-witness-store.ts';
import { tempDir } from '../helpers/fixture.ts';
import { StaticLog } from '../core/tlog/static-log.ts';

test('one witness key listed under two names is one witness: its cosignature, relabelled, must not count twice', async () => {
  // cosignature/v1 (Ed25519) does not commit to the cosigner's name (tlog-cosignature), so whoever holds
  // one cosignature by key K can re-emit it under any other name whose vkey carries K.
  const w1 = generateNoteKey('w1.example', SIG_TYPE_COSIGNATURE);
  const raw = parseVerifierKey(w1.vkey).key;
  const w2vkey = formatVerifierKey('w2.example', SIG_TYPE_COSIGNATURE, raw);
  const log = new StaticLog();
  log.append(5);
  await log.publish((text) => {
    const line = signatureLines(text, [cosignerFromKey(w1.skey)]);
    const sig = Buffer.from(line.slice('— w1.example '.length).trim(), 'base64');
    sig.writeUInt32BE(keyId('w2.example', SIG_TYPE_COSIGNATURE, raw), 0);
    return `${line}— w2.example ${encodeBase64(new Uint8Array(sig))}\n`;
  });
  await assert.rejects(
    verifyLog({ fetch: log.fetch, vkey: log.vkey, witnesses: [w1.vkey, w2vkey], quorum: 2 }),
    (err: unknown) => isEnclaveError(err, 'invalid_argument') && /given twice/.test(err.message),
  );
});

test('the witness keeps no "evidence" for a replay of the checkpoint it cosigned: anyone holding it could fill witness.db', async () => {
  const dir = tempDir('enclave-witness-evidence-');
  const store = new SqliteWitnessStore(join(dir, 'witness.db'));
  try {
    const log = new StaticLog();
    log.append(5);
    const checkpoint = await log.publish();
    const witness = new WitnessService({ store, cosigner: cosignerFromKey(generateNoteKey('w.example', SIG_TYPE_COSIGNATURE).skey), logs: parseLogOption(`${log.origin}=${log.vkey}`) });
    await witness.addCheckpoint(formatAddCheckpoint({ oldSize: 0, proof: [], checkpoint }));
    // The checkpoint travels in every tlog-proof and search page; padded with unknown signature lines
    // (ignored, up to the 1 MiB note limit) and sent with a junk proof line, each request was stored.
    const padded = checkpoint + Array.from({ length: 90 }, (_, i) => `— junk${i}.example ${Buffer.alloc(8000, i).toString('base64')}\n`).join('');
    for (let i = 0; i < 5; i++) {
      await assert.rejects(witness.addCheckpoint(formatAddCheckpoint({ oldSize: 5, proof: [new Uint8Array(32).fill(i)], checkpoint: padded })), (e: unknown) => isEnclaveError(e, 'log_proof_invalid'));
    }
    assert.equal((await store.evidence(log.origin)).length, 0, 'evidence rows kept for replays of the cosigned checkpoint');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a newer genuine checkpoint sent again and again is kept as evidence once, without the signature lines no trusted key made', async () => {
  const dir = tempDir('enclave-witness-evidence-once-');
  const store = new SqliteWitnessStore(join(dir, 'witness.db'));
  try {
    const log = new StaticLog();
    log.append(5);
    const first = await log.publish();
    const witness = new WitnessService({ store, cosigner: cosignerFromKey(generateNoteKey('w.example', SIG_TYPE_COSIGNATURE).skey), logs: parseLogOption(`${log.origin}=${log.vkey}`) });
    await witness.addCheckpoint(formatAddCheckpoint({ oldSize: 0, proof: [], checkpoint: first }));
    // The log moved on while this witness was not asked: its newer checkpoint is genuine and public.
    log.append(3);
    const newer = await log.publish();
    const padded = newer + Array.from({ length: 90 }, (_, i) => `— junk${i}.example ${Buffer.alloc(8000, i).toString('base64')}\n`).join('');
    for (let i = 0; i < 5; i++) {
      await assert.rejects(witness.addCheckpoint(formatAddCheckpoint({ oldSize: 5, proof: [new Uint8Array(32).fill(i)], checkpoint: padded })), (e: unknown) => isEnclaveError(e, 'log_proof_invalid'));
    }
    const kept = await store.evidence(log.origin);
    assert.equal(kept.length, 1, 'one row per signed checkpoint, however often it is sent');
    const [row] = kept;
    assert.ok(row);
    assert.ok(row.body.length < 2000, `the padding is not kept (${row.body.length} characters)`);
    // Still what was judged: the old size, the proof and the checkpoint with the log's own signature.
    assert.equal(row.body, formatAddCheckpoint({ oldSize: 5, proof: [new Uint8Array(32).fill(0)], checkpoint: newer }));
    assert.match(row.checkpoint, /^8 [0-9a-f]{64}$/);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a signed checkpoint of size 0 whose root is not the empty tree\'s is refused, even with --no-full (RFC 9162 §2.1.1)', async () => {
  const log = new StaticLog();
  const bogus = signNote(formatCheckpoint({ origin: log.origin, size: 0, root: new Uint8Array(32).fill(7), extensions: [] }), [log.signer]);
  log.resources.set('checkpoint', new TextEncoder().encode(bogus));
  for (const full of [false, true]) {
    await assert.rejects(verifyLog({ fetch: log.fetch, vkey: log.vkey, full }), (err: unknown) => isEnclaveError(err, 'log_mismatch') && /size 0|0 entries/.test(err.message), `full: ${full}`);
  }
  // The genuine empty checkpoint still verifies.
  await log.publish();
  assert.equal((await verifyLog({ fetch: log.fetch, vkey: log.vkey, full: false })).checkpoint.size, 0);
});

test('a partial entry bundle with more entries than its width is refused when proving one entry, as in the full check (tlog-tiles)', async () => {
  const log = new StaticLog();
  log.append(5);
  await log.publish();
  log.resources.set('tile/entries/000.p/5', encodeEntryBundle([...log.tree.entries, new TextEncoder().encode('{"i":"extra"}')]));
  for (const full of [false, true]) {
    await assert.rejects(
      verifyLog({ fetch: log.fetch, vkey: log.vkey, full, entries: [2] }),
      (err: unknown) => isEnclaveError(err, 'log_mismatch') && /tile\/entries\/000\.p\/5 holds 6 entries, but the checkpoint of size 5 requires 5/.test(err.message),
      `full: ${full}`,
    );
  }
});

test('a concurrency below 1 is invalid_argument, not a loop that never advances', async () => {
  const log = new StaticLog();
  log.append(300);
  await log.publish();
  for (const concurrency of [0, -1, 1.5]) {
    await assert.rejects(verifyLog({ fetch: log.fetch, vkey: log.vkey, concurrency }), (err: unknown) => isEnclaveError(err, 'invalid_argument'), `concurrency ${concurrency}`);
  }
  assert.equal((await verifyLog({ fetch: log.fetch, vkey: log.vkey, concurrency: 1 })).entriesChecked, 300);
});

test('the log\'s own key given as a witness key is refused: its cosignatures would be the log\'s own', async () => {
  const log = new StaticLog();
  log.append(3);
  await log.publish();
  const own = formatVerifierKey('w1.example', SIG_TYPE_COSIGNATURE, parseVerifierKey(log.vkey).key);
  await assert.rejects(verifyLog({ fetch: log.fetch, vkey: log.vkey, witnesses: [own], quorum: 1 }), (err: unknown) => isEnclaveError(err, 'invalid_argument') && /w1\.example is the log's own key/.test(err.message));
  // A witness with a key of its own is accepted as a key (the quorum then decides).
  const other = generateNoteKey('w2.example', SIG_TYPE_COSIGNATURE).vkey;
  assert.equal((await verifyLog({ fetch: log.fetch, vkey: log.vkey, witnesses: [other], quorum: 0 })).checkpoint.size, 3);
});
