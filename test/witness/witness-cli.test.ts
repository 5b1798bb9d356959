// `enclave witness init` and `enclave witness serve` as real processes: the key pair, the refusal to
// overwrite it, and a served witness that cosigns a log's checkpoint (over HTTP or HTTPS) and stops
// cleanly on SIGTERM.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cosignatureVerifierFromKey, noteVerifier, openCheckpoint } from '../../src/core/tlog/index.ts';
import { addCheckpoint } from '../../src/services/witness-client.ts';
import { StaticLog } from '../core/tlog/static-log.ts';
import { configureTlsClient, trustCaFileForWitnesses } from '../../src/cli/tls-client.ts';
import { makeTestPki } from '../helpers/test-pki.ts';
import { killAll, oneErrorLine, removeDir, run, runInProcess, startListening, tempDir } from '../cli/helpers.ts';

after(killAll);

/** The names of the witnesses whose cosignatures the witness at `url` gives `note` of `log`, each verified. */
async function cosigners(url: string, vkey: string, log: StaticLog, note: string): Promise<string[]> {
  const lines = await addCheckpoint({ url, vkey }, 0, [], note);
  return openCheckpoint(note + lines, noteVerifier(log.vkey), { witnesses: [cosignatureVerifierFromKey(vkey)] }).cosigners.map((w) => w.name);
}

test('witness init writes a private key file and prints the verifier key; a second init is refused', async () => {
  const dir = tempDir();
  try {
    const wdir = join(dir, 'w');
    const r = await run(['witness', 'init', '--dir', wdir, '--name', 'witness.provider.example/w1', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const { vkey, name } = JSON.parse(r.stdout) as { vkey: string; name: string };
    assert.equal(name, 'witness.provider.example/w1');
    assert.match(vkey, /^witness\.provider\.example\/w1\+[0-9a-f]{8}\+B[A-P]/); // base64 of 0x04 then the key: a cosignature key
    cosignatureVerifierFromKey(vkey);
    assert.equal(statSync(join(wdir, 'witness.key')).mode & 0o777, 0o600);
    assert.match(readFileSync(join(wdir, 'witness.key'), 'utf8'), /^PRIVATE\+KEY\+witness\.provider\.example\/w1\+/);
    const again = await run(['witness', 'init', '--dir', wdir]);
    assert.equal(again.code, 1);
    assert.equal(oneErrorLine(again).code, 'already_initialized');
    const badName = await run(['witness', 'init', '--dir', join(dir, 'x'), '--name', 'has space']);
    assert.equal(badName.code, 2);
  } finally {
    removeDir(dir);
  }
});

test('witness serve cosigns the configured log, refuses others, and stops on SIGTERM', async () => {
  const dir = tempDir();
  try {
    const init = await run(['witness', 'init', '--dir', dir, '--name', 'w1.example', '--json']);
    const { vkey } = JSON.parse(init.stdout) as { vkey: string };
    const log = new StaticLog();
    const missing = await run(['witness', 'serve', '--dir', join(dir, 'nope'), '--log', log.vkey, '--port', '0']);
    assert.equal(oneErrorLine(missing).code, 'not_initialized');
    const badLog = await run(['witness', 'serve', '--dir', dir, '--log', 'origin=garbage', '--port', '0']);
    assert.equal(badLog.code, 2);
    assert.match(badLog.stderr, /expected <origin>=<log vkey>/);
    const served = await startListening(['witness', 'serve', '--dir', dir, '--log', `${log.origin}=${log.vkey}`, '--port', '0', '--log-level', 'silent']);
    try {
      assert.match(served.stderr(), new RegExp(`verifier key ${vkey.replace(/[+/]/g, '\\$&')}`));
      log.append(7);
      const note = await log.publish();
      assert.deepEqual(await cosigners(served.url, vkey, log, note), ['w1.example']);
      const stranger = new StaticLog('stranger.example');
      stranger.append(1);
      await assert.rejects(addCheckpoint({ url: served.url, vkey }, 0, [], await stranger.publish()), /unknown_log|does not cosign/);
    } finally {
      assert.equal(await served.stop('SIGTERM'), 0);
    }
  } finally {
    removeDir(dir);
  }
});

test('witness serve over HTTPS (--tls-cert, --tls-key): cosigns for a log that trusts its CA; a bad pair is refused before it starts', async () => {
  const dir = tempDir();
  try {
    const init = await run(['witness', 'init', '--dir', join(dir, 'w'), '--name', 'w1.example', '--json']);
    const { vkey } = JSON.parse(init.stdout) as { vkey: string };
    const pki = makeTestPki(dir);
    const log = new StaticLog();
    const onlyCert = await run(['witness', 'serve', '--dir', join(dir, 'w'), '--log', log.vkey, '--port', '0', '--tls-cert', pki.serverCert]);
    assert.equal(onlyCert.code, 2);
    assert.match(oneErrorLine(onlyCert).message, /--tls-cert and --tls-key go together/);
    const wrongKey = await run(['witness', 'serve', '--dir', join(dir, 'w'), '--log', log.vkey, '--port', '0', '--tls-cert', pki.serverCert, '--tls-key', pki.otherKey]);
    assert.equal(wrongKey.code, 1);
    assert.deepEqual(oneErrorLine(wrongKey).code, 'invalid_argument');
    assert.match(oneErrorLine(wrongKey).message, /^--tls-key: .*other\.key is not the private key of the certificate in .*server\.crt/);

    const served = await startListening(['witness', 'serve', '--dir', join(dir, 'w'), '--log', `${log.origin}=${log.vkey}`, '--port', '0', '--log-level', 'silent', '--tls-cert', pki.serverCert, '--tls-key', pki.serverKey]);
    try {
      assert.match(served.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.match(served.stdout(), /^TLS TLSv1\.2 or later: CN=localhost, valid until /m);
      log.append(3);
      const note = await log.publish();
      // This process does not trust the test CA yet: the log's client refuses the witness.
      await assert.rejects(addCheckpoint({ url: served.url, vkey }, 0, [], note));
      configureTlsClient({ caFile: pki.caCert });
      trustCaFileForWitnesses();
      assert.deepEqual(await cosigners(served.url, vkey, log, note), ['w1.example']);
    } finally {
      configureTlsClient({});
      assert.equal(await served.stop('SIGTERM'), 0);
    }
  } finally {
    removeDir(dir);
  }
});

test('witness serve with --tls-cert whose store cannot be opened keeps no SIGHUP handler behind (in process)', async () => {
  const dir = tempDir();
  try {
    const init = await run(['witness', 'init', '--dir', join(dir, 'w'), '--name', 'w1.example']);
    assert.equal(init.code, 0, init.stderr);
    // A directory where the database file goes: opening the store fails.
    mkdirSync(join(dir, 'w', 'witness.db'));
    const pki = makeTestPki(dir);
    const log = new StaticLog();
    const handlers = process.listenerCount('SIGHUP');
    const failed = await runInProcess(['witness', 'serve', '--dir', join(dir, 'w'), '--log', `${log.origin}=${log.vkey}`, '--port', '0', '--log-level', 'silent', '--tls-cert', pki.serverCert, '--tls-key', pki.serverKey]);
    assert.notEqual(failed.code, 0);
    assert.equal(process.listenerCount('SIGHUP'), handlers, 'a SIGHUP handler of the failed run stays: this process would reload a certificate for no server, and SIGHUP no longer ends it');
  } finally {
    removeDir(dir);
  }
});
