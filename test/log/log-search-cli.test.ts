// `enclave log search` and `enclave log subject-key` against a real server listening on a local port:
// results are checked against their inclusion proofs (and the log's key with --vkey) before printing;
// a wrong key or a tampered answer fails with one line; conflicting options are usage errors.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../src/cli/program.ts';
import { generateNoteKey } from '../../src/core/tlog/note.ts';
import { checkPage } from '../../src/cli/commands/log-search.ts';
import { CliError } from '../../src/cli/fail.ts';
import { canonicalJsonBytes } from '../../src/core/canonical-json.ts';
import { isEnclaveError } from '../../src/core/errors.ts';
import { StaticLog } from '../core/tlog/static-log.ts';
import type { LogEntry } from '../../src/core/log-entry.ts';
import { memoryIo } from '../cli/helpers.ts';
import { tempDir } from '../helpers/fixture.ts';
import { makeHttpFixture, type HttpFixture } from '../helpers/http.ts';

let h: HttpFixture;
let url: string;
let vkey: string;

before(async () => {
  h = await makeHttpFixture();
  await h.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' });
  await h.call('service', 'POST', '/v1/collections/users/records', { id: 'ann-p', data: { user_id: 'ann', username: 'ann', email: 'ann@example.test' } });
  for (let i = 0; i < 5; i++) await h.call('service', 'GET', '/v1/collections/users/records/ann-p');
  await h.enclave.log.sync();
  url = await h.app.listen({ host: '127.0.0.1', port: 0 });
  vkey = (await h.call(null, 'GET', '/log/vkey')).body.trim();
});
after(async () => h.close());

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await runCli(['log', ...args, '--server', url], io);
  await new Promise((r) => setImmediate(r));
  return { code, out: io.out(), err: io.err() };
}

void describe('enclave log search', () => {
  void it('lists a subject\'s entries as JSON lines, proven and signed', async () => {
    const r = await cli('search', '--subject', 'ann', '--vkey', vkey, '--json', '--token', h.tokens.officer);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as { index: number; entry: LogEntry });
    assert.ok(lines.length >= 7, `${lines.length} results`);
    assert.ok(lines.every((l) => l.entry.subject === lines[0]?.entry.subject));
    assert.deepEqual(new Set(lines.map((l) => l.entry.type)), new Set(['subject.registered', 'record.created', 'access.decision']));
  });

  void it('prints a table for people, follows pages with --all, and says how to continue without it', async () => {
    const paged = await cli('search', '--principal', 'service-1', '--limit', '2', '--token', h.tokens.regulator);
    assert.equal(paged.code, 0, paged.err);
    assert.match(paged.out, /^INDEX\s+TIME\s+TYPE\s+PRINCIPAL\s+SUBJECT\s+WHAT/);
    assert.equal(paged.out.trim().split('\n').length, 3);
    assert.match(paged.err, /more results: --after \d+/);
    const all = await cli('search', '--principal', 'service-1', '--limit', '2', '--all', '--token', h.tokens.regulator);
    assert.equal(all.code, 0, all.err);
    assert.ok(all.out.trim().split('\n').length >= 8);
    assert.match(all.out, /record\.read allow users/);
  });

  void it('--all shows its progress through the log as JSON lines on stderr off a terminal (as migrate run), none with --quiet', async () => {
    const all = await cli('search', '--principal', 'service-1', '--limit', '2', '--all', '--json', '--token', h.tokens.regulator);
    assert.equal(all.code, 0, all.err);
    const found = all.out.trim().split('\n').map((l) => JSON.parse(l) as { index: number; checkpoint_size: number });
    const size = found[0]?.checkpoint_size ?? 0;
    const progress = all.err.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { progress: string; done: number; total: number; unit: string; found: number });
    assert.ok(progress.length > 0, `JSON progress lines on stderr: ${all.err}`);
    assert.ok(progress.every((p) => p.progress === 'searching' && p.unit === 'entries' && p.total === size), all.err);
    assert.deepEqual(progress.at(-1), { ...progress.at(-1), done: size, found: found.length });
    const quiet = await cli('search', '--principal', 'service-1', '--limit', '2', '--all', '--quiet', '--token', h.tokens.regulator);
    assert.equal(quiet.code, 0, quiet.err);
    assert.doesNotMatch(quiet.err, /^\{/m);
  });

  void it('takes --vkey as a file too, as log verify does; a path that is neither is a usage error', async () => {
    const dir = tempDir('enclave-vkey-');
    try {
      const file = join(dir, 'log.vkey');
      writeFileSync(file, `${vkey}\n`);
      const r = await cli('search', '--subject', 'ann', '--vkey', file, '--token', h.tokens.officer);
      assert.equal(r.code, 0, r.err);
      assert.match(r.err, /signed by the given key/);
      const missing = await cli('search', '--subject', 'ann', '--vkey', join(dir, 'nope.vkey'), '--token', h.tokens.officer);
      assert.equal(missing.code, 2);
      assert.match(missing.err, /^enclave: invalid_argument: --vkey is neither a verifier key \(name\+id\+base64\) nor a readable file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void it('fails with one line when the checkpoint is not signed by the given key', async () => {
    const other = generateNoteKey('enclave/other').vkey;
    const r = await cli('search', '--subject', 'ann', '--vkey', other, '--token', h.tokens.officer);
    assert.equal(r.code, 1);
    assert.match(r.err, /^enclave: log_signature_invalid: /);
    assert.equal(r.err.trim().split('\n').length, 1);
  });

  void it('refuses a tampered result: an entry changed after the proof was made does not verify', async () => {
    const io = memoryIo();
    assert.equal(await runCli(['log', 'search', '--subject', 'ann', '--json', '--server', url, '--token', h.tokens.officer], io), 0);
    const res = await h.call('officer', 'GET', '/v1/log/search?subject=ann');
    const page = JSON.parse(res.body) as Parameters<typeof checkPage>[0];
    checkPage(page, vkey);
    const first = page.results[0];
    assert.ok(first);
    const forged = { ...page, results: [{ ...first, entry: { ...first.entry, type: 'token.issued' as const } }] };
    assert.throws(() => checkPage(forged, vkey), /not proven/);
    const moved = { ...page, results: [{ ...first, index: first.index + 1 }] };
    assert.throws(() => checkPage(moved, vkey), /not proven/);
  });

  void it('refuses results that no checkpoint backs: a page without a checkpoint has nothing to prove them against', async () => {
    const res = await h.call('officer', 'GET', '/v1/log/search?subject=ann');
    const page = JSON.parse(res.body) as Parameters<typeof checkPage>[0];
    const first = page.results[0];
    assert.ok(first);
    const forged = { checkpoint: null, size: 0, results: [{ ...first, entry: { ...first.entry, principal: null } }], next: null };
    assert.throws(() => checkPage(forged), (e: unknown) => isEnclaveError(e, 'log_mismatch') && /no checkpoint/.test(e.message));
    checkPage({ checkpoint: null, size: 0, results: [], next: null });
  });

  void it('refuses a page that is not a search page, or a proven entry that is not a log entry, with a typed error', async () => {
    const res = await h.call('officer', 'GET', '/v1/log/search?subject=ann');
    const page = JSON.parse(res.body) as Parameters<typeof checkPage>[0];
    const first = page.results[0];
    assert.ok(first);
    const shapes: unknown[] = [null, [], { ...page, results: 'x' }, { ...page, size: '7' }, { ...page, results: [{ ...first, proof: 'x' }] }, { ...page, results: [null] }, { ...page, checkpoint: 7 }];
    for (const shape of shapes) {
      assert.throws(() => checkPage(shape as Parameters<typeof checkPage>[0], vkey), (e: unknown) => e instanceof CliError && e.code === 'bad_response', JSON.stringify(shape)?.slice(0, 80));
    }
    // An entry without details, its proof valid because the log signed it so: refused before it is printed.
    const log = new StaticLog(h.enclave.config.log.origin);
    const odd = { v: 1, type: 'access.decision', time: '2026-03-01T00:00:00.000Z', principal: null, subject: null };
    log.append([canonicalJsonBytes(odd)]);
    const note = await log.publish();
    const proven = { checkpoint: note, size: 1, results: [{ index: 0, entry: odd as unknown as LogEntry, proof: [] }], next: null };
    assert.throws(() => checkPage(proven, log.vkey), (e: unknown) => isEnclaveError(e, 'invalid_log_data') && /^search result 0 is not a log entry/.test(e.message));
  });

  void it('prints what a server sent escaped: a principal id with terminal control sequences does not reach the terminal raw', async () => {
    const log = new StaticLog();
    const entry = { details: { action: 'record.read\u001b]0;owned\u0007', allow: true }, principal: { id: 'eve\u001b[2K\r', org: 'o', role: 'r' }, subject: null, time: '2026-03-01T00:00:00.000Z', type: 'access.decision', v: 1 };
    log.append([canonicalJsonBytes(entry)]);
    const page = { checkpoint: await log.publish(), size: 1, results: [{ index: 0, entry, proof: [] }], next: null };
    const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(page)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const io = memoryIo();
      const code = await runCli(['log', 'search', '--server', `http://127.0.0.1:${(server.address() as AddressInfo).port}`, '--token', 'enc_x', '--vkey', log.vkey], io);
      assert.equal(code, 0, io.err());
      assert.doesNotMatch(io.out(), /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
      assert.match(io.out(), /eve\\u001b\[2K\\u000d/);
      assert.match(io.out(), /record\.read\\u001b\]0;owned\\u0007 allow/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  void it('is refused to the parent company, and rejects conflicting or malformed options as usage errors', async () => {
    const parent = await cli('search', '--token', h.tokens.parent);
    assert.equal(parent.code, 1);
    assert.match(parent.err, /^enclave: forbidden: /);
    for (const args of [['--subject', 'ann', '--subject-hash', 'a'.repeat(64)], ['--type', 'nope'], ['--from', 'yesterday'], ['--limit', '0'], ['--subject-hash', 'XYZ']]) {
      const r = await cli('search', ...args, '--token', h.tokens.officer);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.equal(r.err.trim().split('\n').length, 1);
    }
  });
});

void describe('--help', () => {
  void it('log search and log subject-key print usage with examples, exit 0', async () => {
    for (const sub of ['search', 'subject-key']) {
      const io = memoryIo();
      assert.equal(await runCli(['log', sub, '--help'], io), 0);
      await new Promise((r) => setImmediate(r));
      assert.match(io.out(), new RegExp(`^Usage: enclave log ${sub} `));
      assert.match(io.out(), /Examples:\n {2}\$ enclave log /);
    }
  });
});

void describe('enclave log subject-key', () => {
  void it('prints the key for an officer and logs the disclosure; refuses others', async () => {
    const r = await cli('subject-key', '--recipient', 'regulator', '--reason', 'annual audit 2026', '--json', '--token', h.tokens.officer);
    assert.equal(r.code, 0, r.err);
    const body = JSON.parse(r.out) as { key: string; log_index: number };
    assert.equal(body.key, h.enclave.log.subjectKey());
    const [entry] = await h.enclave.log.store.readEntries(body.log_index, body.log_index + 1);
    assert.match(Buffer.from(entry ?? []).toString(), /"type":"key\.disclosed"/);
    const refused = await cli('subject-key', '--recipient', 'regulator', '--reason', 'annual audit 2026', '--token', h.tokens.regulator);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /^enclave: forbidden: /);
  });
});
