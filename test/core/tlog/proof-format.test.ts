// C2SP tlog-proof: format and parse a single-entry inclusion proof bundle, verify it offline, and
// refuse malformed or tampered bundles with the typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isEnclaveError, type ErrorCode } from '../../../src/core/errors.ts';
import {
  formatCheckpoint,
  formatTlogProof,
  frontierRoot,
  generateNoteKey,
  noteSigner,
  noteVerifier,
  parseTlogProof,
  proveRecord,
  signNote,
  verifyTlogProof,
  type TlogProof,
} from '../../../src/core/tlog/index.ts';
import { assertProperty, entry, hex, throwsCode, treeOf } from './fixtures.ts';

const ORIGIN = 'log.example/enclave';
const key = generateNoteKey(ORIGIN);
const log = noteVerifier(key.vkey);
const tree = treeOf(21);
const checkpoint = signNote(formatCheckpoint({ origin: ORIGIN, size: 21, root: frontierRoot(tree.frontier), extensions: [] }), [noteSigner(key.skey)]);

async function bundle(index: number, extra?: Uint8Array): Promise<TlogProof> {
  const proof = await proveRecord(21, index, tree);
  return extra === undefined ? { index, proof, checkpoint } : { extra, index, proof, checkpoint };
}


test('a tlog-proof has the header, index, proof lines, a blank line and the checkpoint verbatim', async () => {
  const p = await bundle(5);
  const text = formatTlogProof(p);
  const lines = text.split('\n');
  assert.equal(lines[0], 'c2sp.org/tlog-proof@v1');
  assert.equal(lines[1], 'index 5');
  assert.equal(lines.slice(2, 2 + p.proof.length).join(), p.proof.map((h) => Buffer.from(h).toString('base64')).join());
  assert.equal(lines[2 + p.proof.length], '');
  assert.ok(text.endsWith(`\n\n${checkpoint}`));
  const parsed = parseTlogProof(text);
  assert.equal(parsed.index, 5);
  assert.equal(parsed.extra, undefined);
  assert.deepEqual(parsed.proof.map(hex), p.proof.map(hex));
  assert.equal(parsed.checkpoint, checkpoint);
  const opened = verifyTlogProof(parsed, entry(5), log);
  assert.equal(opened.checkpoint.size, 21);
  const withExtra = parseTlogProof(formatTlogProof(await bundle(20, new Uint8Array([1, 2, 3]))));
  assert.deepEqual([...(withExtra.extra ?? [])], [1, 2, 3]);
  assert.match(formatTlogProof(withExtra), /^c2sp\.org\/tlog-proof@v1\nextra AQID\nindex 20\n/);
  verifyTlogProof(withExtra, entry(20), log);
});

test('every entry of the tree has a proof that verifies for it and for no other entry', async () => {
  for (let i = 0; i < 21; i++) {
    const p = parseTlogProof(formatTlogProof(await bundle(i)));
    verifyTlogProof(p, entry(i), log);
    throwsCode(() => verifyTlogProof(p, entry(i + 1), log), 'log_proof_invalid', new RegExp(`index ${i} in tree size 21`));
  }
});

test('a tampered checkpoint or a foreign key fails the signature; a wrong index fails the proof', async () => {
  const p = await bundle(3);
  throwsCode(() => verifyTlogProof({ ...p, checkpoint: checkpoint.replace('\n21\n', '\n22\n') }, entry(3), log), 'log_signature_invalid');
  throwsCode(() => verifyTlogProof(p, entry(3), noteVerifier(generateNoteKey(ORIGIN).vkey)), 'log_signature_invalid');
  throwsCode(() => verifyTlogProof({ ...p, index: 2 }, entry(3), log), 'log_proof_invalid');
  throwsCode(() => verifyTlogProof({ ...p, index: 21 }, entry(3), log), 'log_proof_invalid', /not in a tree of size 21/);
});

test('malformed tlog-proofs are invalid_log_data', async () => {
  const good = formatTlogProof(await bundle(7));
  const hash = Buffer.alloc(32, 1).toString('base64');
  const cases: [string, RegExp][] = [
    ['', /ends before its header/],
    [good.replace('c2sp.org/tlog-proof@v1', 'c2sp.org/tlog-proof@v2'), /starts with the line/],
    [good.replace('index 7', 'index 07'), /leading zeros/],
    [good.replace('index 7', 'index -7'), /decimal/],
    [good.replace('index 7', 'idx 7'), /lacks its index line/],
    [good.replace('index 7\n', `index 7\n${hash.slice(0, -2)}\n`), /base64/],
    [good.replace('index 7\n', 'index 7\nAAAA\n'), /3 bytes, not 32/],
    [good.replace('index 7\n', `index 7\n${`${hash}\n`.repeat(64)}`), /more than 63/],
    [good.replace('index 7\n', 'extra !!\nindex 7\n'), /base64/],
    [good.replace('c2sp.org/tlog-proof@v1\nindex 7\n', 'c2sp.org/tlog-proof@v1\nindex 7\nextra AQID\n'), /base64|bytes/],
    [good.slice(0, good.indexOf('\n\n') + 1), /ends before its blank line/],
    [good.slice(0, good.indexOf('\n\n') + 2), /blank line before its signatures/],
  ];
  for (const [text, pattern] of cases) throwsCode(() => parseTlogProof(text), 'invalid_log_data', pattern);
  throwsCode(() => formatTlogProof({ index: 1, proof: [new Uint8Array(3)], checkpoint }), 'invalid_log_data', /32 bytes/);
  throwsCode(() => formatTlogProof({ index: 1, proof: [], checkpoint: 'not a note' }), 'invalid_log_data');
});

test('property: any one-character change is refused or still verifies only for the same entry and index', async () => {
  const good = formatTlogProof(await bundle(11));
  assertProperty(
    fc.property(fc.nat(good.length - 1), fc.string({ maxLength: 2 }), (at, s) => {
      const text = good.slice(0, at) + s + good.slice(at + 1);
      try {
        const p = parseTlogProof(text);
        verifyTlogProof(p, entry(11), log);
        assert.equal(p.index, 11, 'only the same index can verify');
      } catch (err) {
        assert.ok(['invalid_log_data', 'log_signature_invalid', 'log_proof_invalid'].some((c) => isEnclaveError(err, c as ErrorCode)), String(err));
      }
    }),
    { numRuns: 2000 },
  );
});
