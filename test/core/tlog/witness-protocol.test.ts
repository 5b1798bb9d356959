// The tlog-witness add-checkpoint request body: "old <size>", up to 63 proof lines, a blank line, the
// signed checkpoint. Strict parsing with typed errors, and round trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isEnclaveError } from '../../../src/core/errors.ts';
import { formatAddCheckpoint, formatCheckpoint, generateNoteKey, noteSigner, parseAddCheckpoint, signNote } from '../../../src/core/tlog/index.ts';
import { assertProperty, hex } from './fixtures.ts';

const key = generateNoteKey('log.example');
const checkpoint = signNote(formatCheckpoint({ origin: 'log.example', size: 9, root: new Uint8Array(32).fill(3), extensions: [] }), [noteSigner(key.skey)]);
const hashes = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)];

test('the add-checkpoint body is the old size, the proof lines, a blank line and the checkpoint (tlog-witness)', () => {
  const body = formatAddCheckpoint({ oldSize: 4, proof: hashes, checkpoint });
  assert.equal(body, `old 4\n${Buffer.from(hashes[0] as Uint8Array).toString('base64')}\n${Buffer.from(hashes[1] as Uint8Array).toString('base64')}\n\n${checkpoint}`);
  const parsed = parseAddCheckpoint(new TextEncoder().encode(body));
  assert.equal(parsed.oldSize, 4);
  assert.deepEqual(parsed.proof.map(hex), hashes.map(hex));
  assert.equal(parsed.checkpoint, checkpoint);
  assert.deepEqual(parseAddCheckpoint(`old 0\n\n${checkpoint}`), { oldSize: 0, proof: [], checkpoint });
});

test('malformed add-checkpoint bodies are invalid_log_data', () => {
  const h = Buffer.from(hashes[0] as Uint8Array).toString('base64');
  const cases: [string | Uint8Array, RegExp][] = [
    ['', /ends before the blank line/],
    [`old 4\n${h}\n`, /ends before the blank line/],
    [`old 04\n\n${checkpoint}`, /leading zeros/],
    [`old -1\n\n${checkpoint}`, /decimal/],
    [`OLD 4\n\n${checkpoint}`, /must start with the line "old <size>"/],
    [`old  4\n\n${checkpoint}`, /decimal/],
    [`old 4\n${h.slice(1)}\n\n${checkpoint}`, /base64/],
    [`old 4\nAAAA\n\n${checkpoint}`, /not a 32-byte hash/],
    [`old 4\n${`${h}\n`.repeat(64)}\n${checkpoint}`, /more than 63/],
    [`old 4\n\n${checkpoint.slice(0, -1)}`, /end with a newline/],
    [`old 4\n\nnot a note\n`, /blank line before its signatures/],
    [new Uint8Array([0x6f, 0x6c, 0x64, 0x20, 0x31, 0xff, 0x0a]), /UTF-8/],
    ['x'.repeat(2 * 1024 * 1024), /larger than/],
  ];
  for (const [body, pattern] of cases) {
    assert.throws(() => parseAddCheckpoint(body), (e: unknown) => isEnclaveError(e, 'invalid_log_data') && pattern.test(e.message), String(pattern));
  }
  assert.equal(parseAddCheckpoint(`old 4\n${`${h}\n`.repeat(63)}\n${checkpoint}`).proof.length, 63);
});

test('property: bodies round-trip; arbitrary and mutated bodies never crash', () => {
  assertProperty(
    fc.property(fc.maxSafeNat(), fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 63 }), (oldSize, proof) => {
      const parsed = parseAddCheckpoint(formatAddCheckpoint({ oldSize, proof, checkpoint }));
      assert.equal(parsed.oldSize, oldSize);
      assert.deepEqual(parsed.proof.map(hex), proof.map(hex));
      assert.equal(parsed.checkpoint, checkpoint);
    }),
    { numRuns: 300 },
  );
  const good = formatAddCheckpoint({ oldSize: 4, proof: hashes, checkpoint });
  assertProperty(
    fc.property(fc.oneof(fc.string(), fc.tuple(fc.nat(good.length - 1), fc.string({ maxLength: 2 })).map(([at, s]) => good.slice(0, at) + s + good.slice(at + 1))), (body) => {
      try {
        const parsed = parseAddCheckpoint(body);
        assert.equal(formatAddCheckpoint(parsed), body);
      } catch (err) {
        assert.ok(isEnclaveError(err, 'invalid_log_data'), String(err));
      }
    }),
    { numRuns: 2000 },
  );
});
