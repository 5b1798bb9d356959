// C2SP signed-note: the Go reference key and note reproduced byte for byte, strict parsing, unknown
// signers kept but never trusted, a failing known signature rejects the note, and the limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isEnclaveError } from '../../../src/core/errors.ts';
import {
  MAX_NOTE_SIGNATURES,
  SIG_TYPE_ED25519,
  generateNoteKey,
  isValidKeyName,
  keyId,
  noteSigner,
  noteVerifier,
  openNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  splitNote,
  type NoteSigner,
} from '../../../src/core/tlog/index.ts';
import { assertProperty, throwsCode } from './fixtures.ts';

// golang.org/x/mod/sumdb/note's test key and note.
const VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const SIG = '\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const NOTE = `${TEXT}\n${SIG}`;


test('the Go reference key and note: key ID, key encodings and signature byte for byte', () => {
  const k = parseVerifierKey(VKEY);
  assert.equal(k.name, 'PeterNeumann');
  assert.equal(k.keyId, 0xc74f20a3);
  assert.equal(k.type, SIG_TYPE_ED25519);
  assert.equal(keyId(k.name, k.type, k.key), 0xc74f20a3);
  const signer = noteSigner(SKEY);
  assert.equal(signer.vkey, VKEY);
  assert.equal(parseSignerKey(SKEY).keyId, 0xc74f20a3);
  assert.equal(signNote(TEXT, [signer]), NOTE);
  const opened = openNote(NOTE, [noteVerifier(VKEY)]);
  assert.equal(opened.text, TEXT);
  assert.deepEqual(opened.verified.map((s) => s.name), ['PeterNeumann']);
  assert.equal(opened.unverified.length, 0);
  assert.equal(openNote(new TextEncoder().encode(NOTE), [noteVerifier(VKEY)]).text, TEXT);
});

test('every substring and every one-byte change of the reference verifier key is refused (as Go tests it)', () => {
  const bytes = new TextEncoder().encode(VKEY);
  const decoder = new TextDecoder();
  const bad = (k: string): void => {
    assert.throws(() => noteVerifier(k), (e: unknown) => isEnclaveError(e, 'invalid_log_data'), `accepted ${k}`);
  };
  for (let i = 0; i <= bytes.length; i++) for (let j = i + 1; j <= bytes.length; j++) if (i !== 0 || j !== bytes.length) bad(decoder.decode(bytes.subarray(i, j)).trim() || 'x');
  for (let i = 0; i < bytes.length; i++) {
    const changed = bytes.slice();
    changed[i] = (changed[i] ?? 0) + 1;
    bad(decoder.decode(changed));
  }
  bad('PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=='); // wrong key length, adjusted ID
  bad('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'); // unknown type, adjusted ID
  bad('PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'); // the ID is lowercase hex
});

test('key names: non-empty, no Unicode space, no plus', () => {
  for (const name of ['example.com/log', 'PeterNeumann', 'ü']) assert.ok(isValidKeyName(name), name);
  for (const name of ['', 'a b', 'a+b', 'a\u00a0b', 'a\u2003b', 'a\tb', 'a\u0085b', 'a\nb']) assert.ok(!isValidKeyName(name), JSON.stringify(name));
  throwsCode(() => generateNoteKey('a b'), 'invalid_log_data');
});

test('malformed notes are invalid_log_data, never a crash', () => {
  const v = [noteVerifier(VKEY)];
  const cases: [string, RegExp][] = [
    [TEXT + SIG, /blank line/],
    [`${TEXT}\n`, /no signature/],
    [`${TEXT}\n${SIG.slice(0, -1)}`, /end with a newline/],
    [`${TEXT}\n${SIG}extra\n`, /line 2 does not start with an em dash/],
    [`${TEXT}\n- PeterNeumann x08go/ZJku\n`, /em dash/],
    [`${TEXT}\n\u2014 PeterNeumann\n`, /no space/],
    [`${TEXT}\n\u2014  x08go/ZJkuBS9UG/Sffc=\n`, /invalid key name/],
    [`${TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/Sff\n`, /base64/],
    [`${TEXT}\n\u2014 PeterNeumann AAAA\n`, /too short/],
    [`${TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAN=\n`, /canonical/],
    [`If\u0007 you\n\n${SIG}`, /control character/],
    [`If\r\n\n${SIG}`, /control character/],
    [`bad \ud800 surrogate\n\n${SIG}`, /UTF-8/],
  ];
  for (const [note, pattern] of cases) throwsCode(() => openNote(note, v), 'invalid_log_data', pattern);
  throwsCode(() => openNote(new Uint8Array([0x61, 0xff, 0x0a, 0x0a]), v), 'invalid_log_data', /UTF-8/);
  throwsCode(() => signNote('no newline', [noteSigner(SKEY)]), 'invalid_log_data', /end with a newline/);
  throwsCode(() => signNote(TEXT, []), 'invalid_log_data', /at least one signer/);
});

test('a changed text, a changed signature, or only unknown signers are log_signature_invalid', () => {
  const v = [noteVerifier(VKEY)];
  throwsCode(() => openNote(NOTE.replace('cryptography', 'cryptographY'), v), 'log_signature_invalid', /PeterNeumann .* does not verify/);
  throwsCode(() => openNote(NOTE.replace('x08go/', 'x08go+'), v), 'log_signature_invalid', /does not verify/);
  const other = generateNoteKey('someone.example/other');
  throwsCode(() => openNote(NOTE, [noteVerifier(other.vkey)]), 'log_signature_invalid', /no signature by a trusted key \(trusted: someone\.example\/other\+/);
  throwsCode(() => openNote(NOTE, []), 'log_signature_invalid', /trusted: none/);
  // Same name, other key: a different key ID, so the signature is someone else's, not a failure of ours.
  const impostor = generateNoteKey('PeterNeumann');
  throwsCode(() => openNote(NOTE, [noteVerifier(impostor.vkey)]), 'log_signature_invalid', /no signature by a trusted key/);
});

test('unknown signers are kept apart; repeated signatures count once; a bad known signature rejects the note', () => {
  const peter = noteSigner(SKEY);
  const alice = noteSigner(generateNoteKey('alice.example').skey);
  const bob = noteSigner(generateNoteKey('bob.example').skey);
  const note = signNote(TEXT, [alice, peter, bob]);
  const opened = openNote(note + note.slice(TEXT.length + 1), [noteVerifier(VKEY), noteVerifier(bob.vkey)]);
  assert.deepEqual(opened.verified.map((s) => s.name), ['PeterNeumann', 'bob.example']);
  assert.deepEqual(opened.unverified.map((s) => s.name), ['alice.example']);
  // A forged line claiming to be Bob (his name and key ID, another key's signature) spoils the note.
  const forger: NoteSigner = { name: bob.name, keyId: bob.keyId, sign: (t) => alice.sign(t) };
  const forged = signNote(TEXT, [peter, forger]);
  throwsCode(() => openNote(forged, [noteVerifier(VKEY), noteVerifier(bob.vkey)]), 'log_signature_invalid', /bob\.example .* does not verify/);
  // Not trusting Bob, the same note opens on Peter's signature alone.
  assert.equal(openNote(forged, [noteVerifier(VKEY)]).unverified.length, 1);
});

test('every signature by a known key is verified, a repeated one too (signed-note: "MUST verify")', () => {
  const peter = noteSigner(SKEY);
  const alice = noteSigner(generateNoteKey('alice.example').skey);
  // Peter's valid line, then a second line under his name and key ID with another key's signature.
  const forger: NoteSigner = { name: peter.name, keyId: peter.keyId, sign: (t) => alice.sign(t) };
  throwsCode(() => openNote(signNote(TEXT, [peter, forger]), [noteVerifier(VKEY)]), 'log_signature_invalid', /PeterNeumann .* does not verify/);
  throwsCode(() => openNote(signNote(TEXT, [forger, peter]), [noteVerifier(VKEY)]), 'log_signature_invalid', /PeterNeumann .* does not verify/);
});

test('a note may carry 100 signatures but not 101; texts may contain blank lines', () => {
  const peter = noteSigner(SKEY);
  const others = Array.from({ length: MAX_NOTE_SIGNATURES - 1 }, (_, i): NoteSigner => ({ name: `w${i}`, keyId: i, sign: () => new Uint8Array(64) }));
  const full = signNote(TEXT, [peter, ...others]);
  assert.equal(openNote(full, [noteVerifier(VKEY)]).unverified.length, MAX_NOTE_SIGNATURES - 1);
  throwsCode(() => openNote(full + SIG, [noteVerifier(VKEY)]), 'invalid_log_data', /more than 100 signatures/);
  const blank = 'first\n\nsecond\n\n';
  assert.equal(openNote(signNote(blank, [peter]), [noteVerifier(VKEY)]).text, blank);
});

test('property: sign then open returns the text; arbitrary input never crashes the parser', () => {
  const signer = noteSigner(SKEY);
  const verifiers = [noteVerifier(VKEY)];
  const line = fc.string({ unit: fc.oneof(fc.constantFrom('a', ' ', '—', '+', '=', '/'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), maxLength: 40 })
    .map((s) => s.replace(/[\u0000-\u001f]/g, ''));
  assertProperty(
    fc.property(fc.array(line, { minLength: 1, maxLength: 6 }), (lines) => {
      const text = `${lines.join('\n')}\n`;
      assert.equal(openNote(signNote(text, [signer]), verifiers).text, text);
    }),
    { numRuns: 300 },
  );
  assertProperty(
    fc.property(fc.oneof(fc.string(), fc.constant(NOTE).chain((n) => fc.tuple(fc.nat(n.length), fc.string({ maxLength: 3 })).map(([at, s]) => n.slice(0, at) + s + n.slice(at + 1)))), (note) => {
      try {
        const opened = openNote(note, verifiers);
        assert.equal(opened.text, TEXT, 'only the untouched text may verify');
      } catch (err) {
        assert.ok(isEnclaveError(err, 'invalid_log_data') || isEnclaveError(err, 'log_signature_invalid'), String(err));
      }
    }),
    { numRuns: 2000 },
  );
  assertProperty(
    fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
      try {
        splitNote(bytes);
      } catch (err) {
        assert.ok(isEnclaveError(err, 'invalid_log_data'), String(err));
      }
    }),
    { numRuns: 1000 },
  );
});
