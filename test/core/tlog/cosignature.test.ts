// C2SP tlog-cosignature, Ed25519 cosignature/v1: the signed message, the 72-byte timestamped signature,
// key IDs with type 0x04, and what must not verify.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verify } from 'node:crypto';
import { isEnclaveError } from '../../../src/core/errors.ts';
import {
  COSIGNATURE_SIZE,
  SIG_TYPE_COSIGNATURE,
  SIG_TYPE_ED25519,
  cosignatureMessage,
  cosignatureTimestamp,
  cosignatureVerifier,
  cosignatureVerifierFromKey,
  cosignerFromKey,
  createCosigner,
  ed25519PublicKey,
  formatVerifierKey,
  generateEd25519,
  generateNoteKey,
  keyId,
  noteSigner,
  noteVerifier,
  openNote,
  parseVerifierKey,
  rawPublicKey,
  signNote,
} from '../../../src/core/tlog/index.ts';

const TEXT = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';
const encoder = new TextEncoder();

test('the signed message is "cosignature/v1", the time line, then the checkpoint text (tlog-cosignature example)', () => {
  assert.equal(
    new TextDecoder().decode(cosignatureMessage(encoder.encode(TEXT), 1679315147n)),
    `cosignature/v1\ntime 1679315147\n${TEXT}`,
  );
});

test('a cosignature is the big-endian timestamp and an Ed25519 signature of that message, under a 0x04 key ID', () => {
  const key = generateEd25519();
  const pub = rawPublicKey(key);
  const cosigner = createCosigner('witness.example/w1', key, () => 1679315147);
  assert.equal(cosigner.keyId, keyId('witness.example/w1', SIG_TYPE_COSIGNATURE, pub));
  assert.notEqual(cosigner.keyId, keyId('witness.example/w1', SIG_TYPE_ED25519, pub));
  assert.equal(parseVerifierKey(cosigner.vkey).type, SIG_TYPE_COSIGNATURE);
  const sig = cosigner.sign(encoder.encode(TEXT));
  assert.equal(sig.byteLength, COSIGNATURE_SIZE);
  assert.equal(Buffer.from(sig.subarray(0, 8)).toString('hex'), '00000000641850cb');
  assert.equal(cosignatureTimestamp(sig), 1679315147n);
  // Checked with node:crypto directly, independently of the verifier under test.
  assert.ok(verify(null, Buffer.from(`cosignature/v1\ntime 1679315147\n${TEXT}`), ed25519PublicKey(pub), sig.subarray(8)));
  assert.ok(cosignatureVerifier('witness.example/w1', pub).verify(encoder.encode(TEXT), sig));
});

test('a cosignature does not verify over another text, with another timestamp, or as a plain note signature', () => {
  const w = generateNoteKey('w.example', SIG_TYPE_COSIGNATURE);
  const cosigner = cosignerFromKey(w.skey, () => 1_700_000_000);
  const v = cosignatureVerifierFromKey(w.vkey);
  const sig = cosigner.sign(encoder.encode(TEXT));
  assert.ok(v.verify(encoder.encode(TEXT), sig));
  assert.ok(!v.verify(encoder.encode(TEXT.replace('20852163', '20852164')), sig));
  const later = sig.slice();
  later[7] = (later[7] ?? 0) + 1;
  assert.ok(!v.verify(encoder.encode(TEXT), later), 'the timestamp is signed');
  const huge = sig.slice();
  huge[0] = 0x80; // above 2^63 - 1
  assert.ok(!v.verify(encoder.encode(TEXT), huge));
  assert.ok(!v.verify(encoder.encode(TEXT), sig.subarray(0, 71)));
  // The same key pair as a 0x01 note key has another key ID: the cosignature is just an unknown signature.
  const raw = parseVerifierKey(w.vkey).key;
  const log = noteSigner(generateNoteKey('log.example').skey);
  const note = signNote(TEXT, [log, cosigner]);
  const asPlain = openNote(note, [noteVerifier(log.vkey), noteVerifier(formatVerifierKey('w.example', SIG_TYPE_ED25519, raw))]);
  assert.equal(asPlain.verified.length, 1);
  assert.equal(asPlain.unverified.length, 1);
  const cosigned = openNote(note, [noteVerifier(log.vkey), v]);
  assert.equal(cosigned.verified.length, 2);
});

test('key types are checked: a note key is not a cosigner key and vice versa', () => {
  const plain = generateNoteKey('a.example');
  const cosig = generateNoteKey('b.example', SIG_TYPE_COSIGNATURE);
  assert.throws(() => cosignerFromKey(plain.skey), (e: unknown) => isEnclaveError(e, 'invalid_log_data') && /type 0x04/.test(e.message));
  assert.throws(() => cosignatureVerifierFromKey(plain.vkey), (e: unknown) => isEnclaveError(e, 'invalid_log_data') && /type 0x04/.test(e.message));
  assert.throws(() => noteVerifier(cosig.vkey), (e: unknown) => isEnclaveError(e, 'invalid_log_data') && /0x04 is not an Ed25519 note key/.test(e.message));
  assert.throws(() => noteSigner(cosig.skey), (e: unknown) => isEnclaveError(e, 'invalid_log_data'));
});
