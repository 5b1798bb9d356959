// `enclave log verify` and `enclave log proof` against a tlog-tiles log served over HTTP (built from
// the core functions, test/core/tlog/static-log.ts): success output, --save/--since, --json, and one
// precise failure line with a non-zero exit for every mismatch.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { runCli } from '../../src/cli/program.ts';
import { SIG_TYPE_COSIGNATURE, cosignerFromKey, generateNoteKey, noteVerifier, parseTlogProof, signatureLines, verifyTlogProof } from '../../src/core/tlog/index.ts';
import { entry } from '../core/tlog/fixtures.ts';
import { StaticLog } from '../core/tlog/static-log.ts';
import { memoryIo, oneErrorLine, removeDir, tempDir } from './helpers.ts';

const TOKEN = 'enc_test-token';
let app: FastifyInstance;
let base = '';
let log: StaticLog;
let needToken = false;
let dir = '';

before(async () => {
  dir = tempDir();
  app = Fastify();
  app.get('/log/*', async (request, reply) => {
    if (needToken && request.headers.authorization !== `Bearer ${TOKEN}`) return reply.status(401).send({ error: { code: 'unauthenticated', message: 'token' } });
    const data = log.resources.get((request.params as { '*': string })['*']);
    if (data === undefined) return reply.status(404).send({ error: { code: 'not_found', message: 'no such tile' } });
    return reply.type('application/octet-stream').send(Buffer.from(data));
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

after(async () => {
  await app.close();
  removeDir(dir);
});

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await runCli(args, io);
  await new Promise((r) => setImmediate(r));
  return { code, out: io.out(), err: io.err() };
}

function failure(r: { code: number; err: string }): { code: string; message: string } {
  assert.equal(r.code, 1, r.err);
  return oneErrorLine({ code: r.code, signal: null, stdout: '', stderr: r.err });
}

async function fresh(size: number, cosign?: (text: string) => string): Promise<StaticLog> {
  log = new StaticLog();
  log.append(size);
  await log.publish(cosign);
  return log;
}

test('verify: the whole tree, chosen entries, --save then --since after the log grew', async () => {
  await fresh(300);
  const saved = join(dir, 'cp.txt');
  const first = await cli('log', 'verify', '--url', `${base}/log`, '--vkey', log.vkey, '--entry', '3', '--entry', '299', '--save', saved);
  assert.equal(first.code, 0, first.err);
  assert.equal(first.err, '');
  assert.match(first.out, /^verified log\.example\/enclave: checkpoint of 300 entries, root [A-Za-z0-9+/]+=*, signed by the log key\n/);
  assert.match(first.out, /\n {2}tree: 300 entries and 3 tiles rehashed; they match the root\n/);
  assert.match(first.out, /\n {2}entry 3: included \(9 proof hashes\): \{"i":3\}\n/);
  assert.match(first.out, /\n {2}saved the checkpoint to .*cp\.txt\n$/);
  assert.equal(readFileSync(saved, 'utf8'), log.checkpoints[0]);
  log.append(50);
  await log.publish();
  const vkeyFile = join(dir, 'log.vkey');
  writeFileSync(vkeyFile, `${log.vkey}\n`);
  const second = await cli('log', 'verify', '--url', base, '--vkey', vkeyFile, '--since', saved, '--save', saved, '--json');
  assert.equal(second.code, 0, second.err);
  const report = JSON.parse(second.out) as { size: number; consistent_with: number; tree: { entries: number }; saved: string };
  assert.equal(report.size, 350);
  assert.equal(report.consistent_with, 300);
  assert.equal(report.tree.entries, 350);
  assert.equal(readFileSync(saved, 'utf8'), log.checkpoints[1]);
  assert.ok(statSync(saved).size > 0);
});

test('verify: progress of a large log as JSON lines on stderr off a terminal (as migrate run), none with --quiet', async () => {
  // At least 65,536 entries: a log the command shows progress for (a smaller one takes well under a second).
  await fresh(65_536 + 300);
  const r = await cli('log', 'verify', '--url', `${base}/log`, '--vkey', log.vkey, '--json');
  assert.equal(r.code, 0, r.err);
  assert.equal((JSON.parse(r.out) as { size: number }).size, 65_836, 'stdout holds the result alone');
  const progress = r.err.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { progress: string; done: number; total: number; unit: string });
  assert.ok(progress.length > 0, 'JSON progress lines on stderr');
  assert.ok(progress.every((p) => p.progress === 'verifying' && p.unit === 'entries' && p.total === 65_836), r.err);
  assert.equal(progress.at(-1)?.done, 65_836);
  const quiet = await cli('log', 'verify', '--url', `${base}/log`, '--vkey', log.vkey, '--quiet');
  assert.equal(quiet.code, 0, quiet.err);
  assert.equal(quiet.err, '');
  assert.match(quiet.out, /^verified log\.example\/enclave: checkpoint of 65,836 entries/);
});

test('verify: an edited entry, a deleted bundle, a forged signature — one line each, exit 1', async () => {
  await fresh(10);
  const url = `${base}/log`;
  const bundle = 'tile/entries/000.p/10';
  const original = log.resources.get(bundle) as Uint8Array;
  const edited = Buffer.from(original);
  edited[2 + 5] = 0x58; // a byte inside entry 0
  log.resources.set(bundle, edited);
  const e = failure(await cli('log', 'verify', '--url', url, '--vkey', log.vkey));
  assert.equal(e.code, 'log_mismatch');
  assert.match(e.message, /^entry 0 \(tile\/entries\/000\.p\/10, position 0\) hashes to [0-9a-f]{16}…, but tile\/0\/000\.p\/10 holds [0-9a-f]{16}… for it$/);
  log.resources.delete(bundle);
  assert.match(failure(await cli('log', 'verify', '--url', url, '--vkey', log.vkey)).message, /^tile\/entries\/000\.p\/10 is missing, but the checkpoint of size 10 requires it$/);
  log.resources.set(bundle, original);
  const other = generateNoteKey(log.origin).vkey;
  const s = failure(await cli('log', 'verify', '--url', url, '--vkey', other));
  assert.equal(s.code, 'log_signature_invalid');
  assert.match(s.message, /^checkpoint: the note carries no signature by a trusted key/);
});

test('verify: a rolled-back checkpoint and a forked history against --since', async () => {
  await fresh(20);
  const saved = join(dir, 'cp-rollback.txt');
  log.append(5);
  writeFileSync(saved, await log.publish());
  log.resources.set('checkpoint', new TextEncoder().encode(log.checkpoints[0]));
  const r = failure(await cli('log', 'verify', '--url', `${base}/log`, '--vkey', log.vkey, '--since', saved));
  assert.equal(r.code, 'log_rollback');
  assert.equal(r.message, "the log's checkpoint has size 20, smaller than the saved checkpoint's 25: the log was rolled back or truncated");
  // The same key signs a different history that grows past the saved size.
  const forked = new StaticLog(log.origin, log.skey);
  forked.append([entry(-1)]).append(30);
  await forked.publish();
  log = forked;
  const f = failure(await cli('log', 'verify', '--url', `${base}/log`, '--vkey', log.vkey, '--since', saved));
  assert.equal(f.code, 'log_proof_invalid');
  assert.match(f.message, /^the log is not consistent with the saved checkpoint of size 25 \(its history was rewritten\): /);
});

test('verify: a witness quorum is required when asked', async () => {
  const w1 = generateNoteKey('w1.example', SIG_TYPE_COSIGNATURE);
  const w2 = generateNoteKey('w2.example', SIG_TYPE_COSIGNATURE);
  await fresh(4, (text) => signatureLines(text, [cosignerFromKey(w1.skey)]));
  const ok = await cli('log', 'verify', '--url', `${base}/log`, '--vkey', log.vkey, '--witness', w1.vkey, '--witness', w2.vkey, '--quorum', '1');
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /\n {2}witnesses: 1 of 2 cosigned \(quorum 1\): w1\.example\n/);
  const q = failure(await cli('log', 'verify', '--url', `${base}/log`, '--vkey', log.vkey, '--witness', w1.vkey, '--witness', w2.vkey));
  assert.equal(q.code, 'log_quorum_not_met');
  assert.equal(q.message, 'checkpoint of size 4: 2 of the 2 trusted witnesses must cosign it, but only w1.example did');
  const usage = await cli('log', 'verify', '--url', `${base}/log`, '--vkey', log.vkey, '--witness', w1.vkey, '--quorum', '2');
  assert.equal(usage.code, 2);
});

test('verify: a log behind a token, an unreachable server, bad arguments', async () => {
  await fresh(3);
  needToken = true;
  try {
    const denied = failure(await cli('log', 'verify', '--url', `${base}/log`, '--vkey', log.vkey));
    assert.equal(denied.code, 'unauthenticated');
    assert.match(denied.message, /needs a bearer token: pass --token or set ENCLAVE_TOKEN$/);
    assert.equal((await cli('log', 'verify', '--url', `${base}/log`, '--vkey', log.vkey, '--token', TOKEN)).code, 0);
  } finally {
    needToken = false;
  }
  assert.equal(failure(await cli('log', 'verify', '--url', 'http://127.0.0.1:1/log', '--vkey', log.vkey)).code, 'unreachable');
  for (const args of [['--url', 'ftp://x/log'], ['--url', 'not a url'], ['--entry', '-1'], ['--since', join(dir, 'none.txt')], ['--vkey', 'no-such-file']]) {
    const r = await cli('log', 'verify', '--url', `${base}/log`, '--vkey', log.vkey, ...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, /^enclave: invalid_argument: /);
  }
  const beyond = failure(await cli('log', 'verify', '--url', `${base}/log`, '--vkey', log.vkey, '--entry', '3'));
  assert.equal(beyond.message, 'entry 3 is not in the log: the checkpoint has 3 entries');
});

test('verify: an entry holding terminal control sequences is printed escaped, never sent raw to the terminal', async () => {
  log = new StaticLog();
  log.append([new TextEncoder().encode('{"i":0}\u001b[2K\r\u009b31mverified\u0007\u007f')]);
  await log.publish();
  const r = await cli('log', 'verify', '--url', base, '--vkey', log.vkey, '--entry', '0');
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.out, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  assert.match(r.out, /\n {2}entry 0: included \(0 proof hashes\): \{"i":0\}\\u001b\[2K\\u000d\\u009b31mverified\\u0007\\u007f\n/);
});

test('proof: exports a C2SP tlog-proof that verifies offline for that entry only', async () => {
  await fresh(600);
  const file = join(dir, 'entry-42.tlog-proof');
  const r = await cli('log', 'proof', '--url', `${base}/log`, '--index', '42', '--vkey', log.vkey, '--out', file);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /^wrote the inclusion proof of entry 42 in the checkpoint of 600 entries to .*entry-42\.tlog-proof\n$/);
  const proof = parseTlogProof(readFileSync(file, 'utf8'));
  assert.equal(proof.index, 42);
  verifyTlogProof(proof, entry(42), noteVerifier(log.vkey));
  assert.throws(() => verifyTlogProof(proof, entry(43), noteVerifier(log.vkey)));
  const stdout = await cli('log', 'proof', '--url', `${base}/log`, '--index', '599');
  assert.equal(stdout.code, 0, stdout.err);
  assert.match(stdout.out, /^c2sp\.org\/tlog-proof@v1\nindex 599\n/);
  verifyTlogProof(parseTlogProof(stdout.out), entry(599), noteVerifier(log.vkey));
  assert.equal(failure(await cli('log', 'proof', '--url', `${base}/log`, '--index', '600')).code, 'invalid_argument');
  // A tampered tile makes the exported proof fail its own check before anything is written.
  const tile = Buffer.from(log.resources.get('tile/0/000') as Uint8Array);
  tile[43 * 32] = (tile[43 * 32] ?? 0) ^ 1;
  log.resources.set('tile/0/000', tile);
  const bad = failure(await cli('log', 'proof', '--url', `${base}/log`, '--index', '42', '--out', join(dir, 'bad.tlog-proof')));
  assert.equal(bad.code, 'log_proof_invalid');
  assert.match(bad.message, /^entry 42: inclusion proof of index 42 in tree size 600 leads to root/);
});
