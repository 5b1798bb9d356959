// Officer packets (seal.recipients): a share and token sealed to one officer's age key open with that
// key alone; anything else handed to `openPacket` — another key's packet, an altered one, a plain share,
// random text — is refused with a typed error, never a crash or a wrong share.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { EnclaveError } from '../../src/core/errors.ts';
import { checkRecipient, newOfficerKey, openPacket, sealPacket } from '../../src/crypto/officer-packet.ts';

const alice = await newOfficerKey();
const bob = await newOfficerKey();
const packet = { officer: 'alice', share: `enclave-share-v1-${'A'.repeat(44)}`, token: `enc_${'b'.repeat(43)}` };
const sealed = await sealPacket(alice.recipient, packet);

async function refused(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof EnclaveError && err.code === code && (message === undefined || message.test(err.message)));
}

void describe('officer packets', () => {
  void it('open with the officer\'s identity, to exactly what was sealed, and hold nothing in clear', async () => {
    assert.deepEqual(await openPacket(sealed, `# created: now\n# public key: ${alice.recipient}\n${alice.identity}\n`), packet);
    assert.ok(!sealed.includes(packet.share) && !sealed.includes(packet.token));
    assert.match(sealed, /^-----BEGIN AGE ENCRYPTED FILE-----\n[\s\S]+\n-----END AGE ENCRYPTED FILE-----\n?$/);
    // Text around the block (a mail, a chat) is ignored; an identity file with several keys works.
    assert.deepEqual(await openPacket(`alice:\n${sealed}\n`, `${bob.identity}\n${alice.identity}\n`), packet);
  });

  void it('refuse another officer\'s key, an altered packet, a plain share and an identity file with no key', async () => {
    await refused(openPacket(sealed, bob.identity), 'invalid_share', /another officer's key, or altered/);
    const lines = sealed.trimEnd().split('\n');
    const body = lines[3] ?? '';
    lines[3] = `${body.slice(0, 10)}${body[10] === 'A' ? 'B' : 'A'}${body.slice(11)}`;
    await refused(openPacket(lines.join('\n'), alice.identity), 'invalid_share');
    await refused(openPacket(packet.share, alice.identity), 'invalid_share', /expected an encrypted share/);
    await refused(openPacket(sealed, '# nothing here\n'), 'invalid_argument');
    await refused(openPacket(sealed, 'not a key'), 'invalid_argument');
  });

  void it('open from everything init printed, forwarded whole: the block made for this identity is found', async () => {
    const forBob = await sealPacket(bob.recipient, { officer: 'bob', share: `enclave-share-v1-${'B'.repeat(44)}` });
    const whole = `Unseal shares …\n\nalice:\n${sealed.trimEnd()}\n\nbob:\n${forBob.trimEnd()}\n\nNext:\n  enclave serve\n`;
    assert.deepEqual(await openPacket(whole, alice.identity), packet);
    assert.equal((await openPacket(whole, bob.identity)).officer, 'bob');
    // Quoted with indentation by a mail client.
    assert.deepEqual(await openPacket(sealed.split('\n').map((l) => `    ${l}`).join('\n'), alice.identity), packet);
    const carol = await newOfficerKey();
    await refused(openPacket(whole, carol.identity), 'invalid_share', /none of the 2 encrypted shares given does open with this identity/);
  });

  void it('say what is wrong with an identity file age would not use: a damaged key, an SSH key, a passphrase-protected key', async () => {
    await refused(openPacket(sealed, `${alice.identity.slice(0, -3)}QQQ`), 'invalid_argument', /key 1 is not a valid age secret key/);
    await refused(openPacket(sealed, '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----\n'), 'invalid_argument', /holds no age secret key.*SSH keys/);
    const { Encrypter, armor } = await import('age-encryption');
    const e = new Encrypter();
    e.setScryptWorkFactor(10);
    e.setPassphrase('correct horse');
    const protectedKey = await e.encrypt(`${alice.identity}\n`);
    await refused(openPacket(sealed, armor.encode(protectedKey)), 'invalid_argument', /passphrase-protected/);
    await refused(openPacket(sealed, Buffer.from(protectedKey).toString('latin1')), 'invalid_argument', /passphrase-protected/);
  });

  void it('refuse a file age opens that is not an Enclave packet', async () => {
    const { Encrypter, armor } = await import('age-encryption');
    const e = new Encrypter();
    e.addRecipient(alice.recipient);
    for (const plain of ['hello', '{"kind":"other"}', JSON.stringify({ kind: 'enclave-officer-packet-v1', officer: 'alice' }), 'null']) {
      await refused(openPacket(armor.encode(await e.encrypt(plain)), alice.identity), 'invalid_share', /holds no Enclave share/);
    }
  });

  void it('checkRecipient accepts age public keys and refuses anything else', () => {
    checkRecipient(alice.recipient);
    for (const bad of ['', 'age1', 'age1qqqq', alice.identity, alice.recipient.toUpperCase().replace('AGE1', 'age1'), `${alice.recipient.slice(0, -1)}q`]) {
      assert.throws(() => checkRecipient(bad), Error, bad);
    }
  });

  void it('never crashes on arbitrary input: every refusal is a typed error (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.string().map((s) => `-----BEGIN AGE ENCRYPTED FILE-----\n${s}\n-----END AGE ENCRYPTED FILE-----`), fc.nat({ max: sealed.length - 1 }).chain((i) => fc.string({ minLength: 1, maxLength: 3 }).map((s) => sealed.slice(0, i) + s + sealed.slice(i + 1)))), async (text) => {
        try {
          const opened = await openPacket(text, alice.identity);
          // Only the untouched packet (a mutation that changed nothing, or only white space age ignores) opens, and to what was sealed.
          assert.deepEqual(opened, packet);
        } catch (err) {
          assert.ok(err instanceof EnclaveError && err.code === 'invalid_share', String(err));
        }
      }),
      { numRuns: 300 },
    );
  });
});
