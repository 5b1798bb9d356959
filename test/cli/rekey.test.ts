// `enclave rekey` as officers run it: a server runs sealed meanwhile; two officers pipe their shares, the
// edited seal section names a new officer, the new shares are printed once; the server then refuses the
// previous shares and unseals with the new ones, and the transparency log holds key.rekeyed. A bad share
// is one line and a non-zero exit, and changes nothing.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { newOfficerKey } from '../../src/crypto/officer-packet.ts';
import { killAll, lines, oneErrorLine, removeDir, run, startListening, tempDir, type LongRunning, type RunResult } from './helpers.ts';

const SHARE = /enclave-share-v1-[A-Za-z0-9_-]{44}/g;

/** The error line a command ended with, after the notes it printed before (one line each, no stack trace). */
function endedWith(r: RunResult): { code: string; message: string } {
  return oneErrorLine({ ...r, stderr: `${lines(r.stderr).at(-1) ?? ''}\n` });
}

void describe('enclave rekey', () => {
  let dir: string;
  let config: string;
  let shares: string[];
  let server: LongRunning;
  let env: Record<string, string>;

  before(async () => {
    dir = tempDir();
    const init = await run(['init', '--dir', dir]);
    assert.equal(init.code, 0, init.stderr);
    shares = init.stdout.match(SHARE) ?? [];
    assert.equal(shares.length, 3);
    config = join(dir, 'enclave.yaml');
    server = await startListening(['serve', '--config', config, '--port', '0']);
    env = { ENCLAVE_SERVER: server.url };
  });

  after(async () => {
    await server.stop();
    killAll();
    removeDir(dir);
  });

  void it('refuses a share that is not the current split\'s in one line, and changes nothing', async () => {
    const other = await run(['init', '--dir', join(dir, 'other')]);
    const foreign = (other.stdout.match(SHARE) ?? [])[0] ?? '';
    const r = await run(['rekey', '--config', config], { input: `${shares[0] ?? ''}\n${foreign}\n` });
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stderr, /\n\s+at |\.ts:\d+/);
    assert.equal(endedWith(r).code, 'invalid_share');
    assert.equal(r.stdout, '', 'no share printed');
    // The same configuration still opens (nothing changed), and the old shares are still in force.
    const status = await run(['unseal', '--status', '--json'], { env });
    assert.equal((JSON.parse(status.stdout) as { shares: number }).shares, 3);
  });

  void it('hands out new shares for the edited seal section; the running server refuses the previous shares and unseals with the new ones', async () => {
    const text = readFileSync(config, 'utf8');
    const section = /^seal:\n {2}threshold: 2\n {2}officers: \[alice, bob, carol\]$/m;
    assert.match(text, section);
    writeFileSync(config, text.replace(section, 'seal:\n  threshold: 2\n  officers: [alice, bob, dave]'));
    // A server started now with the edited file refuses to open, pointing at rekey.
    const early = await run(['serve', '--config', config, '--port', '0']);
    assert.notEqual(early.code, 0);
    assert.match(endedWith(early).message, /run `enclave rekey`/);

    const r = await run(['rekey', '--config', config, '--json'], { input: `${shares[2] ?? ''}\n${shares[0] ?? ''}\n` });
    assert.equal(r.code, 0, r.stderr);
    const printed = JSON.parse(r.stdout) as { threshold: number; shares: { officer: string; share: string }[]; previous: { threshold: number; officers: string[] } };
    assert.deepEqual(printed.shares.map((s) => s.officer), ['alice', 'bob', 'dave']);
    assert.deepEqual(printed.previous, { threshold: 2, officers: ['alice', 'bob', 'carol'] });
    assert.match(r.stderr, /Rekeyed \(logged as key\.rekeyed\)/);
    for (const s of printed.shares) assert.ok(!shares.includes(s.share));

    const old = await run(['unseal', '--share', shares[1] ?? ''], { env });
    assert.notEqual(old.code, 0);
    assert.match(oneErrorLine(old).message, /replaced by `enclave rekey`/);
    const dave = printed.shares.find((s) => s.officer === 'dave')?.share ?? '';
    const bob = printed.shares.find((s) => s.officer === 'bob')?.share ?? '';
    assert.equal((await run(['unseal', '--share', dave], { env })).code, 0);
    const done = await run(['unseal', '--share', bob, '--json'], { env });
    assert.equal(done.code, 0, done.stderr);
    assert.equal((JSON.parse(done.stdout) as { sealed: boolean }).sealed, false);

    // The transparency log holds the rekey, once, naming both splits and no share.
    const db = new DatabaseSync(join(dir, 'data', 'log.db'), { readOnly: true });
    try {
      const rows = db.prepare("SELECT body AS entry FROM log_entries WHERE type = 'key.rekeyed'").all() as { entry: Uint8Array | string }[];
      assert.equal(rows.length, 1);
      const entry = Buffer.from(rows[0]?.entry ?? '').toString('utf8');
      assert.match(entry, /"previous":\{"officers":\["alice","bob","carol"\],"threshold":2\}/);
      for (const s of [...shares, ...printed.shares.map((p) => p.share)]) assert.ok(!entry.includes(s.slice(20)));
    } finally {
      db.close();
    }
  });
});

void describe('enclave rekey of a development enclave given seal.recipients', () => {
  let dir: string;
  before(() => {
    dir = tempDir();
  });
  after(() => removeDir(dir));

  void it('writes no share in clear: the development file, whose shares are void, is removed', async () => {
    const init = await run(['init', '--dir', dir, '--dev']);
    assert.equal(init.code, 0, init.stderr);
    const config = join(dir, 'enclave.yaml');
    const devFile = join(dir, 'data', 'dev-unseal.json');
    assert.ok(existsSync(devFile));
    const keys = await Promise.all(['alice', 'bob', 'carol'].map(async (o) => `    ${o}: ${(await newOfficerKey()).recipient}`));
    const text = readFileSync(config, 'utf8');
    const section = /^ {2}officers: \[alice, bob, carol\]$/m;
    assert.match(text, section);
    writeFileSync(config, text.replace(section, `  officers: [alice, bob, carol]\n  recipients:\n${keys.join('\n')}`));
    const r = await run(['rekey', '--config', config, '--dev-unseal', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, SHARE, 'no share in clear');
    assert.equal((JSON.parse(r.stdout) as { packets: unknown[] }).packets.length, 3);
    assert.equal(existsSync(devFile), false, 'the development file is gone');
    assert.match(r.stderr, /removed .*dev-unseal\.json/);
  });
});
