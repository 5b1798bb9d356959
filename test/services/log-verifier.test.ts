// The outside verifier against a log built from the core functions alone (test/core/tlog/static-log.ts):
// an honest log verifies at every size; every kind of tampering fails with a typed error whose message
// names the resource, the index and the check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isEnclaveError, type ErrorCode } from '../../src/core/errors.ts';
import {
  SIG_TYPE_COSIGNATURE,
  cosignerFromKey,
  decodeEntryBundle,
  encodeEntryBundle,
  formatCheckpoint,
  generateNoteKey,
  signNote,
  signatureLines,
  treeTiles,
  tilePath,
} from '../../src/core/tlog/index.ts';
import { verifyLog, type VerifyLogOptions } from '../../src/services/log-verifier.ts';
import { assertAsyncProperty, entry } from '../core/tlog/fixtures.ts';
import { StaticLog } from '../core/tlog/static-log.ts';

async function fails(options: VerifyLogOptions, code: ErrorCode, pattern: RegExp): Promise<void> {
  await assert.rejects(verifyLog(options), (err: unknown) => {
    assert.ok(isEnclaveError(err, code), `expected ${code}, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

async function logOf(size: number): Promise<StaticLog> {
  const log = new StaticLog();
  log.append(size);
  await log.publish();
  return log;
}

function options(log: StaticLog, more: Partial<VerifyLogOptions> = {}): VerifyLogOptions {
  return { fetch: log.fetch, vkey: log.vkey, ...more };
}

/** Replaces one resource, decoding and re-encoding an entry bundle through `edit`. */
function editBundle(log: StaticLog, path: string, edit: (entries: Uint8Array[]) => Uint8Array[]): void {
  const bundle = log.resources.get(path);
  assert.ok(bundle, path);
  log.resources.set(path, encodeEntryBundle(edit(decodeEntryBundle(bundle))));
}

test('an honest log verifies at every size, with the inclusion of chosen entries and consistency with every earlier checkpoint', async () => {
  const log = new StaticLog();
  const sizes = [0, 1, 2, 255, 256, 257, 600, 66_000];
  for (const size of sizes) {
    log.append(size - log.tree.size);
    await log.publish();
    const entries = size === 0 ? [] : [0, size - 1, Math.floor(size / 2)];
    for (const since of log.checkpoints) {
      const r = await verifyLog(options(log, { entries, since, full: since === log.checkpoints[0] }));
      assert.equal(r.checkpoint.size, size);
      assert.equal(r.note, log.checkpoints.at(-1));
      assert.deepEqual(r.entries.map((e) => new TextDecoder().decode(e.entry)), entries.map((i) => `{"i":${i}}`));
      if (since === log.checkpoints[0]) {
        assert.equal(r.entriesChecked, size);
        assert.equal(r.tilesChecked, treeTiles(size).length);
      }
    }
  }
});

test('an edited, deleted or reordered entry is caught at its bundle and index', async () => {
  const log = await logOf(300);
  const bundle = 'tile/entries/001.p/44';
  editBundle(log, bundle, (es) => es.map((e, i) => (i === 4 ? new TextEncoder().encode('{"i":999}') : e)));
  await fails(options(log), 'log_mismatch', /^entry 260 \(tile\/entries\/001\.p\/44, position 4\) hashes to [0-9a-f]{16}…, but tile\/0\/001\.p\/44 holds [0-9a-f]{16}… for it$/);
  // Without the full pass, the entry's inclusion proof is what fails.
  await fails(options(log, { full: false, entries: [260] }), 'log_proof_invalid', /^entry 260: inclusion proof of index 260 in tree size 300 leads to root/);

  const deleted = await logOf(300);
  editBundle(deleted, bundle, (es) => es.filter((_, i) => i !== 10));
  await fails(options(deleted), 'log_mismatch', /^tile\/entries\/001\.p\/44 holds 43 entries, but the checkpoint of size 300 requires 44$/);

  const reordered = await logOf(300);
  editBundle(reordered, 'tile/entries/000', (es) => [es[1], es[0], ...es.slice(2)] as Uint8Array[]);
  await fails(options(reordered), 'log_mismatch', /^entry 0 \(tile\/entries\/000, position 0\)/);
});

test('a tile rewritten to match edited entries is caught by the tile above it, or by the root', async () => {
  const big = await logOf(300);
  await forgeFirstTile(big, 7, 'tile/entries/000', 'tile/0/000');
  // Level 0 agrees with the edited entries, so the level-1 tile is the first to disagree.
  await fails(options(big), 'log_mismatch', /^tile\/1\/000\.p\/1 holds [0-9a-f]{16}… at position 0, but the full tile below \(tile\/0\/000\) hashes to [0-9a-f]{16}…$/);
  const small = await logOf(20);
  await forgeFirstTile(small, 3, 'tile/entries/000.p/20', 'tile/0/000.p/20');
  await fails(options(small), 'log_mismatch', /^the 20 entries hash to root [0-9a-f]{16}…, but the checkpoint's root is [0-9a-f]{16}…$/);
});

/** Edits entry `index` and rewrites its bundle and level-0 tile to match, leaving the rest (and the checkpoint) alone. */
async function forgeFirstTile(log: StaticLog, index: number, bundle: string, tile: string): Promise<void> {
  const forged = new StaticLog(log.origin);
  forged.append(log.tree.entries.map((e, i) => (i === index ? entry(1_000_000) : e)));
  await forged.publish();
  log.resources.set(bundle, forged.resources.get(bundle) as Uint8Array);
  log.resources.set(tile, forged.resources.get(tile) as Uint8Array);
}

test('a truncated log: a missing bundle or tile, or a short tile, is named', async () => {
  const log = await logOf(600);
  log.resources.delete('tile/entries/002.p/88');
  await fails(options(log), 'log_mismatch', /^tile\/entries\/002\.p\/88 is missing, but the checkpoint of size 600 requires it$/);
  const short = await logOf(600);
  const tile = short.resources.get('tile/0/001') as Uint8Array;
  short.resources.set('tile/0/001', tile.subarray(0, tile.length - 32));
  await fails(options(short), 'log_mismatch', /^tile\/0\/001 is 8160 bytes, but the checkpoint of size 600 requires 256 hashes \(8192 bytes\)$/);
  const upper = await logOf(600);
  upper.resources.delete('tile/1/000.p/2');
  await fails(options(upper), 'log_mismatch', /^tile\/1\/000\.p\/2 is missing/);
});

test('the checkpoint: a changed byte, another key or another origin fails the signature check', async () => {
  const log = await logOf(10);
  const note = new TextDecoder().decode(log.resources.get('checkpoint'));
  log.resources.set('checkpoint', new TextEncoder().encode(note.replace('\n10\n', '\n11\n')));
  await fails(options(log), 'log_signature_invalid', /^checkpoint: the signature by log\.example\/enclave \(key [0-9a-f]{8}\) does not verify$/);
  const other = await logOf(10);
  await fails(options(other, { vkey: generateNoteKey('log.example/enclave').vkey }), 'log_signature_invalid', /^checkpoint: the note carries no signature by a trusted key/);
  await fails(options(other, { origin: 'another.example' }), 'log_signature_invalid', /origin is not another\.example/);
  other.resources.delete('checkpoint');
  await fails(options(other), 'log_mismatch', /serves no checkpoint/);
  other.resources.set('checkpoint', new Uint8Array([0xff, 0x0a]));
  await fails(options(other), 'invalid_log_data', /^checkpoint: it is not valid UTF-8$/);
});

test('a rolled-back checkpoint, a split view and a forked history are caught against the saved checkpoint', async () => {
  const log = new StaticLog();
  log.append(40);
  const at40 = await log.publish();
  log.append(30);
  const at70 = await log.publish();
  // Rollback: the log serves its older checkpoint again.
  log.resources.set('checkpoint', new TextEncoder().encode(at40));
  await fails(options(log, { since: at70 }), 'log_rollback', /^the log's checkpoint has size 40, smaller than the saved checkpoint's 70: the log was rolled back or truncated$/);
  // Fork: the same key signs a tree of 70 whose first 40 entries differ from what was saved at 40.
  const fork = new StaticLog(log.origin, log.skey);
  fork.append(log.tree.entries.slice(0, 39)).append([entry(4242)]).append(30);
  await fork.publish();
  await fails(options(fork, { since: at40 }), 'log_proof_invalid', /^the log is not consistent with the saved checkpoint of size 40 \(its history was rewritten\): consistency proof from size 40 to 70 does not lead to the old root/);
  // Split view: two different trees of the same size, both signed.
  await fails(options(fork, { since: at70 }), 'log_rollback', /^the log's checkpoint and the saved one both have size 70 but different roots .*: a split view$/);
  // A saved checkpoint of another log is refused as such.
  const stranger = await logOf(5);
  await fails(options(log, { since: stranger.checkpoints[0] as string }), 'log_signature_invalid', /^saved checkpoint: /);
});

test('witness quorum: cosignatures are counted only from the trusted witness keys', async () => {
  const w1 = generateNoteKey('w1.example', SIG_TYPE_COSIGNATURE);
  const w2 = generateNoteKey('w2.example', SIG_TYPE_COSIGNATURE);
  const w3 = generateNoteKey('w3.example', SIG_TYPE_COSIGNATURE);
  const log = new StaticLog();
  log.append(12);
  await log.publish((text) => signatureLines(text, [cosignerFromKey(w1.skey), cosignerFromKey(w3.skey)]));
  const ok = await verifyLog(options(log, { witnesses: [w1.vkey, w2.vkey], quorum: 1 }));
  assert.deepEqual(ok.cosigners, ['w1.example']);
  await fails(options(log, { witnesses: [w1.vkey, w2.vkey] }), 'log_quorum_not_met', /^checkpoint of size 12: 2 of the 2 trusted witnesses must cosign it, but only w1\.example did$/);
  await fails(options(log, { witnesses: [w2.vkey], quorum: 1 }), 'log_quorum_not_met', /but none did/);
  await fails(options(log, { witnesses: [w1.vkey], quorum: 2 }), 'invalid_argument', /quorum/);
  await fails(options(log, { witnesses: [log.vkey] }), 'invalid_log_data', /^witness key: .*type 0x04/);
  // A forged cosignature by a trusted witness spoils the checkpoint.
  const forged = new StaticLog(log.origin, log.skey);
  forged.append(12);
  await forged.publish((text) => signatureLines(text, [{ ...cosignerFromKey(w2.skey), sign: (m: Uint8Array) => cosignerFromKey(w1.skey).sign(m) }]));
  await fails(options(forged, { witnesses: [w2.vkey] }), 'log_signature_invalid', /^checkpoint: the signature by w2\.example .* does not verify$/);
});

test('a signed checkpoint claiming a huge tree with nothing behind it fails at its first bundle, in bounded memory', async () => {
  const log = await logOf(1);
  // The log's own key signs a size of 2^50 leaves: the verifier must not plan 2^42 fetches before the first.
  const text = formatCheckpoint({ origin: log.origin, size: 2 ** 50, root: new Uint8Array(32), extensions: [] });
  log.resources.set('checkpoint', new TextEncoder().encode(signNote(text, [log.signer])));
  log.resources.delete('tile/entries/000.p/1');
  await fails(options(log), 'log_mismatch', /^tile\/entries\/000 is missing, but the checkpoint of size 1125899906842624 requires it$/);
});

test('a witness key given twice is refused: its one cosignature would count twice towards the quorum', async () => {
  const w1 = generateNoteKey('w1.example', SIG_TYPE_COSIGNATURE);
  const log = new StaticLog();
  log.append(3);
  await log.publish((text) => signatureLines(text, [cosignerFromKey(w1.skey)]));
  await fails(options(log, { witnesses: [w1.vkey, w1.vkey] }), 'invalid_argument', /^witness key w1\.example\+[0-9a-f]{8} is given twice$/);
  await fails(options(log, { witnesses: [w1.vkey, ` ${w1.vkey}\n`], quorum: 2 }), 'invalid_argument', /given twice/);
});

test('entries outside the tree are refused as arguments', async () => {
  const log = await logOf(10);
  await fails(options(log, { entries: [10] }), 'invalid_argument', /^entry 10 is not in the log: the checkpoint has 10 entries$/);
  await fails(options(log, { entries: [-1] }), 'invalid_argument', /entry -1/);
});

test('property: any corrupted byte of any resource the checkpoint needs fails verification with a typed error', async () => {
  const log = await logOf(300);
  const paths = [...log.resources.keys()];
  const original = new Map(log.resources);
  await assertAsyncProperty(
    fc.asyncProperty(fc.constantFrom(...paths), fc.nat(), fc.integer({ min: 1, max: 255 }), async (path, at, mask) => {
      const data = (original.get(path) as Uint8Array).slice();
      const i = at % data.length;
      data[i] = (data[i] ?? 0) ^ mask;
      log.resources.clear();
      for (const [k, v] of original) log.resources.set(k, v);
      log.resources.set(path, data);
      await assert.rejects(verifyLog(options(log, { entries: [0, 299] })), (err: unknown) => {
        const codes: ErrorCode[] = ['log_mismatch', 'log_signature_invalid', 'invalid_log_data', 'log_proof_invalid'];
        assert.ok(codes.some((c) => isEnclaveError(err, c)), `${path}[${i}]: ${String(err)}`);
        return true;
      });
    }),
    { numRuns: 150 },
  );
  assert.ok(paths.includes(tilePath(1, 0, 1)));
});
