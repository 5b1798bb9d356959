// Deletion certificates are verified from the note and the verifier key alone; any alteration, another
// key, or figures that disagree with each other are refused with certificate_invalid.
import assert from 'node:assert/strict';
import { createHash, randomBytes, sign as nodeSign } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from '../../src/core/canonical-json.ts';
import { CERTIFICATE_TYPE, formatVkey, keyName, signCertificate, verifyCertificate, type DeletionCertificate } from '../../src/core/deletion-certificate.ts';
import { ed25519PrivateKey, rawPublicKey } from '../../src/core/tlog/ed25519.ts';
import { keyId, parseVerifierKey } from '../../src/core/tlog/note.ts';
import { EnclaveError } from '../../src/core/errors.ts';
import { merkleRoot } from '../../src/core/migration-merkle.ts';

const h = (s: string) => createHash('sha256').update(s).digest('hex');
const tables = [
  { table: 'users', collection: 'users', purged_rows: 3, purged_root: h('a'), kept_rows: 2, kept_root_before: h('k1'), kept_root_after: h('k1') },
  { table: 'messages', collection: 'messages', purged_rows: 7, purged_root: h('b'), kept_rows: 0, kept_root_before: h(''), kept_root_after: h('') },
];
const CERT: DeletionCertificate = {
  type: CERTIFICATE_TYPE,
  enclave: 'prod',
  migration: 'virginia',
  source: { kind: 'sqlite', location: 'legacy/virginia.db', site: 'virginia' },
  jurisdictions: ['us'],
  verification: { id: 'v-1', finished_at: '2025-01-01T00:00:00.000Z' },
  tables,
  totals: { purged_rows: 10, kept_rows: 2, subjects: 3 },
  root: merkleRoot(tables.map((t) => Buffer.from(t.purged_root, 'hex'))).toString('hex'),
  digests: { row: 'hmac', tree: 'rfc9162' },
  method: { engine: 'SQLite', steps: ['DELETE', 'VACUUM'], settings: { secure_delete: 'on' }, limits: ['backups'] },
  times: { purge_started_at: '2025-01-01T00:00:01.000Z', purge_committed_at: '2025-01-01T00:00:02.000Z', scrubbed_at: '2025-01-01T00:00:03.000Z' },
};

const fromSeed = (seed: Uint8Array) => {
  const privateKey = ed25519PrivateKey(seed);
  return { privateKey, publicKey: rawPublicKey(privateKey) };
};
const key = fromSeed(randomBytes(32));
const NAME = keyName('prod');
const VKEY = formatVkey(NAME, key.publicKey);
const sign = (c: DeletionCertificate) => signCertificate(c, NAME, key.privateKey);
const invalid = (pattern: RegExp) => (err: unknown) => err instanceof EnclaveError && err.code === 'certificate_invalid' && pattern.test(err.message);

void describe('deletion certificates', () => {
  void it('a signed certificate verifies offline, its id is the hash of its text, and it is a C2SP signed note', () => {
    const { id, note } = sign(CERT);
    const check = verifyCertificate(note, VKEY);
    assert.equal(check.id, id);
    assert.match(id, /^dc-[0-9a-f]{24}$/);
    assert.deepEqual(check.certificate, CERT);
    const [text, sig] = note.split('\n\n');
    assert.equal(`${text ?? ''}\n`, `${canonicalJson(CERT)}\n`);
    assert.match(sig ?? '', /^\u2014 enclave\/prod\/deletion-certificates [A-Za-z0-9+/]{91}=\n$/);
    assert.deepEqual(parseVerifierKey(VKEY).key, key.publicKey);
    // Ed25519 derivation is deterministic: one seed, one key.
    const seed = randomBytes(32);
    assert.deepEqual(fromSeed(seed).publicKey, fromSeed(Buffer.from(seed)).publicKey);
    // A table may say how many of its purged rows were of erased subjects.
    const withErased = { ...CERT, tables: [{ ...tables[0], erased_rows: 3 } as (typeof tables)[0], tables[1] as (typeof tables)[0]] };
    assert.deepEqual(verifyCertificate(sign(withErased).note, VKEY).certificate, withErased);
  });

  void it('refuses altered text, another key, or a missing signature', () => {
    const { note } = sign(CERT);
    assert.throws(() => verifyCertificate(note.replace('"purged_rows":3', '"purged_rows":4'), VKEY), invalid(/does not verify: the certificate was altered/));
    const other = fromSeed(randomBytes(32));
    assert.throws(() => verifyCertificate(note, formatVkey(NAME, other.publicKey)), invalid(/carries no signature by a trusted key .*the certificate was altered or signed by another key/));
    assert.throws(() => verifyCertificate(note, formatVkey('someone/else', key.publicKey)), invalid(/no signature by a trusted key \(trusted: someone\/else\+[0-9a-f]{8}\)/));
    assert.throws(() => verifyCertificate(note.split('\n\n')[0] ?? '', VKEY), invalid(/no blank line before its signatures/));
    assert.throws(() => verifyCertificate(note.replace('\u2014 ', '- '), VKEY), invalid(/signature line 1 does not start with an em dash/));
    // A second signature by an unknown key is ignored; ours still verifies.
    const foreign = `\u2014 someone/else ${randomBytes(68).toString('base64')}\n`;
    assert.equal(verifyCertificate(`${note}${foreign}`, VKEY).id, sign(CERT).id);
  });

  void it('refuses malformed verifier keys', () => {
    for (const bad of ['', 'name+1234abcd', `${NAME}+00000000+${Buffer.concat([Buffer.of(1), key.publicKey]).toString('base64')}`, `${NAME}+${VKEY.split('+')[1] ?? ''}+${Buffer.concat([Buffer.of(2), key.publicKey]).toString('base64')}`]) {
      assert.throws(() => verifyCertificate(sign(CERT).note, bad), invalid(/verifier key/), bad);
    }
  });

  void it('even when validly signed, refuses figures that disagree or text that is not canonical', () => {
    const cases: [DeletionCertificate, RegExp][] = [
      [{ ...CERT, totals: { ...CERT.totals, purged_rows: 11 } }, /totals do not add up/],
      [{ ...CERT, root: h('x') }, /root is not the Merkle Tree Hash/],
      [{ ...CERT, tables: [{ ...tables[0], kept_root_after: h('k2') } as (typeof tables)[0], tables[1] as (typeof tables)[0]] }, /rows that stay changed during the purge/],
      [{ ...CERT, tables: [] }, /tables must have at least 1 item/],
      [{ ...CERT, tables: [{ ...tables[0], erased_rows: 4 } as (typeof tables)[0], tables[1] as (typeof tables)[0]] }, /table users: more rows of erased subjects \(4\) than rows purged \(3\)/],
      [{ ...CERT, type: 'something/else' } as unknown as DeletionCertificate, /type must be/],
    ];
    for (const [c, pattern] of cases) assert.throws(() => verifyCertificate(sign(c).note, VKEY), invalid(pattern), pattern.source);
    // Signed over non-canonical JSON (spaces): refused even though the signature holds.
    const text = `${JSON.stringify(CERT, null, 1).replace(/\n/g, ' ')}\n`;
    const id = Buffer.alloc(4);
    id.writeUInt32BE(keyId(NAME, 1, key.publicKey));
    const sig = Buffer.concat([id, nodeSign(null, Buffer.from(text, 'utf8'), key.privateKey)]).toString('base64');
    assert.throws(() => verifyCertificate(`${text}\n\u2014 ${NAME} ${sig}\n`, VKEY), invalid(/not canonical JSON/));
  });

  void it('refuses a certificate naming another enclave than the one whose key signed it', () => {
    // Validly signed by prod's key, but claiming to be staging's purge.
    const { note } = sign({ ...CERT, enclave: 'staging' });
    assert.throws(() => verifyCertificate(note, VKEY), invalid(/names enclave "staging", but the key is enclave\/prod\/deletion-certificates/));
  });

  void it('property: any change to the note makes it fail with certificate_invalid, never another error', () => {
    const { note } = sign(CERT);
    fc.assert(
      fc.property(fc.nat({ max: note.length - 1 }), fc.string({ minLength: 1, maxLength: 3 }), (at, insert) => {
        const altered = note.slice(0, at) + insert + note.slice(at + 1);
        if (altered === note) return;
        try {
          verifyCertificate(altered, VKEY);
          // Only a change inside an ignored foreign signature could pass: there is none here.
          assert.fail('an altered certificate verified');
        } catch (err) {
          assert.ok(err instanceof EnclaveError && err.code === 'certificate_invalid', String(err));
        }
      }),
      { numRuns: 300 },
    );
  });
});
