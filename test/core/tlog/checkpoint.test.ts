// C2SP tlog-checkpoint: strict parsing of the note text, and opening a signed checkpoint against the
// log's key (signature, origin) with the witnesses' cosignatures reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isEnclaveError } from '../../../src/core/errors.ts';
import {
  SIG_TYPE_COSIGNATURE,
  cosignatureVerifierFromKey,
  cosignerFromKey,
  formatCheckpoint,
  generateNoteKey,
  noteSigner,
  noteVerifier,
  openCheckpoint,
  parseCheckpoint,
  signNote,
  signatureLines,
} from '../../../src/core/tlog/index.ts';
import { assertProperty, hex, throwsCode } from './fixtures.ts';

const invalid = (fn: () => unknown, pattern?: RegExp): void => throwsCode(fn, 'invalid_log_data', pattern);

const EXAMPLE = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';


test('the tlog-checkpoint example parses and formats back byte for byte', () => {
  const c = parseCheckpoint(EXAMPLE);
  assert.equal(c.origin, 'example.com/behind-the-sofa');
  assert.equal(c.size, 20852163);
  assert.equal(hex(c.root), '0ac5186a91863e8e1d90c808014aa89bf5da8e3ee1d9f07630f0378f68f1ab62');
  assert.deepEqual(c.extensions, []);
  assert.equal(formatCheckpoint(c), EXAMPLE);
  const ext = `${EXAMPLE}ext one\nanother\n`;
  assert.deepEqual(parseCheckpoint(ext).extensions, ['ext one', 'another']);
  assert.equal(formatCheckpoint(parseCheckpoint(ext)), ext);
});

test('malformed checkpoints are refused with invalid_log_data', () => {
  const root = 'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=';
  const cases: [string, RegExp][] = [
    [`o\n5\n${root}`, /newline/],
    ['o\n5\n', /at least three lines/],
    [`\n5\n${root}\n`, /origin is empty/],
    [`o\n05\n${root}\n`, /leading zeros/],
    [`o\n-5\n${root}\n`, /decimal/],
    [`o\n+5\n${root}\n`, /decimal/],
    [`o\n 5\n${root}\n`, /decimal/],
    [`o\n5.0\n${root}\n`, /decimal/],
    [`o\n1e3\n${root}\n`, /decimal/],
    [`o\n\n${root}\n`, /decimal/],
    [`o\n9007199254740993\n${root}\n`, /too large/],
    [`o\n5\n${root.slice(0, -1)}\n`, /base64/],
    [`o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n`, /canonical/],
    [`o\n5\nAAAA\n`, /3 bytes, not 32/],
    [`o\n5\n${root}\n\n`, /extension lines must be non-empty/],
    [`o\n5\n${root}\nx\n\ny\n`, /extension lines must be non-empty/],
    [`o\t\n5\n${root}\n`, /control character/],
  ];
  for (const [text, pattern] of cases) invalid(() => parseCheckpoint(text), pattern);
  invalid(() => formatCheckpoint({ origin: '', size: 1, root: new Uint8Array(32), extensions: [] }), /origin/);
  invalid(() => formatCheckpoint({ origin: 'o', size: -1, root: new Uint8Array(32), extensions: [] }), /size/);
  invalid(() => formatCheckpoint({ origin: 'o', size: 1, root: new Uint8Array(31), extensions: [] }), /32 bytes/);
  invalid(() => formatCheckpoint({ origin: 'o', size: 1, root: new Uint8Array(32), extensions: ['a\nb'] }), /extension/);
});

test('property: checkpoints round-trip; any text parses to a checkpoint that formats back to it, or is invalid_log_data', () => {
  const line = fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !/[\u0000-\u001f]/.test(s) && s.isWellFormed());
  assertProperty(
    fc.property(line, fc.maxSafeNat(), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.array(line, { maxLength: 3 }), (origin, size, root, extensions) => {
      const c = { origin, size, root, extensions };
      const parsed = parseCheckpoint(formatCheckpoint(c));
      assert.deepEqual({ ...parsed, root: hex(parsed.root) }, { ...c, root: hex(root) });
    }),
    { numRuns: 500 },
  );
  const mutated = fc.tuple(fc.nat(EXAMPLE.length), fc.string({ maxLength: 2 })).map(([at, s]) => EXAMPLE.slice(0, at) + s + EXAMPLE.slice(at + 1));
  assertProperty(
    fc.property(fc.oneof(fc.string(), mutated), (text) => {
      try {
        assert.equal(formatCheckpoint(parseCheckpoint(text)), text);
      } catch (err) {
        assert.ok(isEnclaveError(err, 'invalid_log_data'), String(err));
      }
    }),
    { numRuns: 2000 },
  );
});

test('opening a signed checkpoint: the log key must sign it, the origin must match, witness cosignatures are reported', () => {
  const logKey = generateNoteKey('log.example/enclave');
  const log = noteSigner(logKey.skey);
  const w1 = generateNoteKey('w1.example', SIG_TYPE_COSIGNATURE);
  const w2 = generateNoteKey('w2.example', SIG_TYPE_COSIGNATURE);
  const text = formatCheckpoint({ origin: 'log.example/enclave', size: 3, root: new Uint8Array(32).fill(7), extensions: [] });
  const signed = signNote(text, [log]);
  const cosigned = signed + signatureLines(text, [cosignerFromKey(w1.skey)]);
  const witnesses = [cosignatureVerifierFromKey(w1.vkey), cosignatureVerifierFromKey(w2.vkey)];
  const opened = openCheckpoint(cosigned, noteVerifier(logKey.vkey), { witnesses });
  assert.equal(opened.checkpoint.size, 3);
  assert.deepEqual(opened.cosigners.map((w) => w.name), ['w1.example']);
  // Signed by a witness only: not a checkpoint of this log.
  const witnessOnly = signNote(text, [cosignerFromKey(w1.skey)]);
  assert.throws(() => openCheckpoint(witnessOnly, noteVerifier(logKey.vkey), { witnesses }), (e: unknown) => isEnclaveError(e, 'log_signature_invalid') && /not signed by the log key/.test(e.message));
  // Another log's key.
  const other = generateNoteKey('log.example/enclave');
  assert.throws(() => openCheckpoint(signed, noteVerifier(other.vkey)), (e: unknown) => isEnclaveError(e, 'log_signature_invalid'));
  // The right key over another origin.
  const foreign = signNote(formatCheckpoint({ origin: 'elsewhere', size: 3, root: new Uint8Array(32), extensions: [] }), [log]);
  assert.throws(() => openCheckpoint(foreign, noteVerifier(logKey.vkey)), (e: unknown) => isEnclaveError(e, 'log_signature_invalid') && /origin is not log\.example\/enclave/.test(e.message));
  assert.equal(openCheckpoint(foreign, noteVerifier(logKey.vkey), { origin: 'elsewhere' }).checkpoint.origin, 'elsewhere');
  // A tampered size.
  assert.throws(() => openCheckpoint(signed.replace('\n3\n', '\n4\n'), noteVerifier(logKey.vkey)), (e: unknown) => isEnclaveError(e, 'log_signature_invalid'));
});
