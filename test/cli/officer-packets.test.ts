// seal.recipients end to end, as officers use it: each makes an age key pair; init (and later rekey)
// prints every share and bootstrap token encrypted to its officer, so the person running it reads none;
// each officer unseals the running server with `unseal --identity`, and opens their token with
// `officer open`. Someone else's key, or a plain share, is one line and a non-zero exit.
import assert from 'node:assert/strict';
import { existsSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { killAll, oneErrorLine, removeDir, run, startListening, tempDir, type LongRunning } from './helpers.ts';

const OFFICERS = ['alice', 'bob', 'carol'] as const;
type Officer = (typeof OFFICERS)[number];

void describe('shares encrypted to each officer (seal.recipients)', () => {
  let dir: string;
  let config: string;
  let server: LongRunning;
  const keyFile = (o: Officer) => join(dir, `${o}.key`);
  const packets = new Map<string, string>();
  /** What `officer open` shows of a packet with that officer's key. */
  const opened = async (o: Officer, packet: string) => {
    const r = await run(['officer', 'open', '--identity', keyFile(o), '--json'], { input: packet });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { officer: string; share: string; token?: string };
  };

  before(async () => {
    dir = tempDir();
    const recipients: string[] = [];
    for (const o of OFFICERS) {
      const made = await run(['officer', 'keygen', '--out', keyFile(o), '--json']);
      assert.equal(made.code, 0, made.stderr);
      recipients.push(`${o}=${(JSON.parse(made.stdout) as { recipient: string }).recipient}`);
    }
    const init = await run(['init', '--dir', join(dir, 'e'), '--recipients', recipients.join(','), '--threshold', '2', '--json']);
    assert.equal(init.code, 0, init.stderr);
    assert.doesNotMatch(init.stdout + init.stderr, /enclave-share-v1-|enc_[A-Za-z0-9_-]{20}/, 'no share or token in clear');
    const result = JSON.parse(init.stdout) as { packets: { officer: string; encrypted: string }[] };
    for (const p of result.packets) packets.set(p.officer, p.encrypted);
    config = join(dir, 'e', 'enclave.yaml');
    server = await startListening(['serve', '--config', config, '--port', '0']);
  });

  after(async () => {
    await server.stop();
    killAll();
    removeDir(dir);
  });

  void it('keygen writes a key only its owner can read, prints the public key, and never overwrites one', async () => {
    assert.equal(statSync(keyFile('alice')).mode & 0o777, 0o600);
    const again = await run(['officer', 'keygen', '--out', keyFile('alice')]);
    assert.notEqual(again.code, 0);
    assert.match(oneErrorLine(again).message, /exists; it is never overwritten/);
    // Nor through a symbolic link (one left dangling would otherwise be followed).
    const link = join(dir, 'link.key');
    symlinkSync(join(dir, 'elsewhere.key'), link);
    const through = await run(['officer', 'keygen', '--out', link]);
    assert.match(oneErrorLine(through).message, /exists; it is never overwritten/);
    assert.equal(existsSync(join(dir, 'elsewhere.key')), false);
  });

  void it('refuses, before any key exists, a recipient age does not accept', async () => {
    const bad = `age1${'q'.repeat(58)}`;
    const r = await run(['init', '--dir', join(dir, 'bad'), '--recipients', `alice=${bad},bob=${bad}`]);
    assert.notEqual(r.code, 0);
    const e = oneErrorLine(r);
    assert.equal(e.code, 'invalid_config');
    assert.match(e.message, /seal\.recipients\.alice: not an age public key/);
    assert.equal(existsSync(join(dir, 'bad', 'enclave.yaml')), false, 'init removed what it created');
  });

  void it('refuses another officer\'s packet, and a plain share, in one line', async () => {
    const env = { ENCLAVE_SERVER: server.url };
    const wrong = await run(['unseal', '--identity', keyFile('bob')], { env, input: packets.get('alice') ?? '' });
    assert.notEqual(wrong.code, 0);
    assert.equal(oneErrorLine(wrong).code, 'invalid_share');
    const plain = (await opened('alice', packets.get('alice') ?? '')).share;
    const notPacket = await run(['unseal', '--identity', keyFile('alice')], { env, input: plain });
    assert.match(oneErrorLine(notPacket).message, /expected an encrypted share/);
    const status = await run(['unseal', '--status', '--json'], { env });
    assert.equal((JSON.parse(status.stdout) as { progress: number }).progress, 0, 'nothing was entered');
  });

  void it('two officers unseal the server from their packets, and an officer\'s token opens from theirs and works', async () => {
    const env = { ENCLAVE_SERVER: server.url };
    for (const o of ['carol', 'alice'] as const) {
      const r = await run(['unseal', '--identity', keyFile(o), '--json'], { env, input: packets.get(o) ?? '' });
      assert.equal(r.code, 0, r.stderr);
    }
    const status = await run(['unseal', '--status', '--json'], { env });
    assert.equal((JSON.parse(status.stdout) as { sealed: boolean }).sealed, false);
    const bob = await opened('bob', packets.get('bob') ?? '');
    assert.equal(bob.officer, 'bob');
    const tokens = await run(['token', 'list', '--json'], { env: { ...env, ENCLAVE_TOKEN: bob.token ?? '' } });
    assert.equal(tokens.code, 0, tokens.stderr);
  });

  void it('rekey hands out the new shares encrypted as well, and they unseal', async () => {
    const current = [(await opened('alice', packets.get('alice') ?? '')).share, (await opened('bob', packets.get('bob') ?? '')).share];
    const r = await run(['rekey', '--config', config, '--json'], { input: `${current.join('\n')}\n` });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /enclave-share-v1-/);
    const next = new Map((JSON.parse(r.stdout) as { packets: { officer: string; encrypted: string }[] }).packets.map((p) => [p.officer, p.encrypted]));
    assert.deepEqual([...next.keys()], [...OFFICERS]);
    // A packet of init no longer unseals; the new ones do (the server was sealed first).
    const env = { ENCLAVE_SERVER: server.url };
    const sealing = await run(['seal'], { env: { ...env, ENCLAVE_TOKEN: (await opened('alice', packets.get('alice') ?? '')).token ?? '' } });
    assert.equal(sealing.code, 0, sealing.stderr);
    const stale = await run(['unseal', '--identity', keyFile('carol')], { env, input: packets.get('carol') ?? '' });
    assert.match(oneErrorLine(stale).message, /replaced by `enclave rekey`/);
    for (const o of ['bob', 'carol'] as const) assert.equal((await run(['unseal', '--identity', keyFile(o)], { env, input: next.get(o) ?? '' })).code, 0);
    const status = await run(['unseal', '--status', '--json'], { env });
    assert.equal((JSON.parse(status.stdout) as { sealed: boolean }).sealed, false);
  });
});
