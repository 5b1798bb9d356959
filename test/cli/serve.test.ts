// A real `enclave serve` process: it starts sealed, `enclave unseal` with shares printed by init opens it,
// and the client commands (subject, record, erase, seal) work through it.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { killAll, oneErrorLine, removeDir, run, startListening, tempDir, type LongRunning } from './helpers.ts';

const SHARE = /enclave-share-v1-[A-Za-z0-9_-]+/g;

describe('enclave serve + unseal + client commands', () => {
  let dir: string;
  let config: string;
  let shares: string[];
  let foreignShare: string;
  let server: LongRunning;
  let env: Record<string, string>;
  /** The platform service, whose token alice proposed and bob and carol approved; it reads for `account`. */
  let appEnv: Record<string, string>;

  before(async () => {
    dir = tempDir();
    const init = await run(['init', '--dir', join(dir, 'a')]);
    assert.equal(init.code, 0, init.stderr);
    shares = init.stdout.match(SHARE) ?? [];
    assert.equal(shares.length, 3);
    const other = await run(['init', '--dir', join(dir, 'b')]);
    foreignShare = (other.stdout.match(SHARE) ?? [])[0] ?? '';
    config = join(dir, 'a', 'enclave.yaml');
    server = await startListening(['serve', '--config', config, '--port', '0']);
    // alice's bootstrap token, printed by init next to her share.
    const tokenOf = (officer: string) => new RegExp(`^ {2}${officer} +(enc_[A-Za-z0-9_-]{43})$`, 'm').exec(init.stdout)?.[1] ?? '';
    const officer = tokenOf('alice');
    assert.ok(officer, init.stdout);
    env = { ENCLAVE_SERVER: server.url, ENCLAVE_TOKEN: officer };
    // No one issues a token alone: alice proposes one for the app, bob and carol approve it.
    const proposed = await run(['token', 'create', '--principal', 'app', '--org', 'platform', '--role', 'service', '--json'], { env });
    assert.equal(proposed.code, 0, proposed.stderr);
    const { proposal, secret } = JSON.parse(proposed.stdout) as { proposal: { id: string }; secret: string };
    for (const approver of ['bob', 'carol']) {
      const approved = await run(['token', 'approve', proposal.id], { env: { ...env, ENCLAVE_TOKEN: tokenOf(approver) } });
      assert.equal(approved.code, 0, approved.stderr);
    }
    appEnv = { ENCLAVE_SERVER: server.url, ENCLAVE_TOKEN: secret, ENCLAVE_PURPOSE: 'account' };
  });

  after(async () => {
    await server.stop();
    killAll();
    removeDir(dir);
  });

  it('starts sealed on the port it printed and says how to unseal', async () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.doesNotMatch(server.url, /:0$/);
    assert.match(server.stdout(), /Sealed: no protected data is served until 2 of the 3 officers run `enclave unseal --server http/);
    assert.doesNotMatch(server.stdout() + server.stderr(), /DEVELOPMENT MODE/);
    const status = await run(['unseal', '--status'], { env });
    assert.equal(status.code, 0, status.stderr);
    assert.equal(status.stdout, '0/2 shares entered; sealed\n');
  });

  it('an edited configuration is named at start and in the seal status, before anyone unseals', async () => {
    const other = join(dir, 'b', 'enclave.yaml');
    const yaml = readFileSync(other, 'utf8');
    writeFileSync(other, yaml.replace('access_approval: { k: 2,', 'access_approval: { k: 3,'));
    const edited = await startListening(['serve', '--config', other, '--port', '0']);
    try {
      const status = await run(['unseal', '--status'], { env: { ENCLAVE_SERVER: edited.url } });
      assert.equal(status.stdout, '0/2 shares entered; sealed; the configuration changed since the last unseal: gatekeeper\n');
      // Printed after the "Listening on" line startListening waits for: it may come in a later chunk.
      for (let i = 0; i < 100 && !/configuration changed/.test(edited.stdout()); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(edited.stdout(), /The configuration changed since the last unseal: gatekeeper \(the unseal logs its digests\)/);
    } finally {
      await edited.stop();
    }
    assert.doesNotMatch(server.stdout(), /configuration changed/, 'the unedited one says nothing');
  });

  it('refuses protected work while sealed', async () => {
    const r = await run(['subject', 'register', 'early', '--country', 'US'], { env });
    assert.equal(r.code, 1);
    assert.equal(oneErrorLine(r).code, 'sealed');
  });

  it('a share of another enclave is refused with one line, exit 1', async () => {
    const r = await run(['unseal', '--share', foreignShare], { env });
    assert.equal(r.code, 1);
    const e = oneErrorLine(r);
    assert.equal(e.code, 'invalid_share');
    assert.match(e.message, /not one of this enclave's unseal shares/);
    assert.doesNotMatch(r.stderr, new RegExp(foreignShare.slice(20)));
  });

  it('two shares of init unseal it: one from --share, one from stdin; a repeated share is refused', async () => {
    const first = await run(['unseal', '--share', shares[0] ?? ''], { env });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, '1/2 shares entered; sealed (entered: alice)\n');
    const again = await run(['unseal', '--share', shares[0] ?? ''], { env });
    assert.equal(again.code, 1);
    assert.equal(oneErrorLine(again).code, 'duplicate_share');
    const second = await run(['unseal'], { env, input: `${shares[2] ?? ''}\n` });
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, 'unsealed\n');
    const status = await run(['unseal', '--status', '--json'], { env });
    assert.equal((JSON.parse(status.stdout) as { sealed: boolean }).sealed, false);
  });

  it('unseal with nothing on stdin is a usage error', async () => {
    const r = await run(['unseal'], { env });
    assert.equal(r.code, 2);
    assert.match(oneErrorLine(r).message, /no share given/);
  });

  it('subject register, show and rehome', async () => {
    const reg = await run(['subject', 'register', 'kim', '--country', 'us'], { env });
    assert.equal(reg.code, 0, reg.stderr);
    assert.equal(reg.stdout, 'registered kim (US) in jurisdiction us at site trusted-us\n');
    const refused = await run(['subject', 'register', 'ana', '--country', 'BR'], { env });
    assert.equal(refused.code, 1);
    assert.equal(oneErrorLine(refused).code, 'no_jurisdiction');
    const show = await run(['subject', 'show', 'kim', '--json'], { env });
    assert.deepEqual(
      (({ id, country, jurisdiction, site }) => ({ id, country, jurisdiction, site }))(JSON.parse(show.stdout) as Record<string, string>),
      { id: 'kim', country: 'US', jurisdiction: 'us', site: 'trusted-us' },
    );
  });

  it('record put (create, replace with If-Match), get, list and delete', async () => {
    const data = { user_id: 'kim', username: 'kim', email: 'kim@example.com' };
    const created = await run(['record', 'put', 'users', 'kim', '--create', '--data', JSON.stringify(data)], { env: appEnv });
    assert.equal(created.code, 0, created.stderr);
    // The ETag names the version and the incarnation: what --if-match takes.
    const v1 = /^created users\/kim \(version 1, etag ("1\.[0-9a-z]+")\)\n$/.exec(created.stdout)?.[1];
    assert.ok(v1, created.stdout);
    const shown = await run(['record', 'get', 'users', 'kim'], { env: appEnv });
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`^users/kim {2}subject kim {2}version 1 {2}etag ${v1} {2}updated `));

    const file = join(dir, 'kim.json');
    writeFileSync(file, JSON.stringify({ ...data, phone: '+1 555 0100' }));
    const stale = await run(['record', 'put', 'users', 'kim', '--file', file, '--if-match', v1.replace('"1.', '"7.')], { env: appEnv });
    assert.equal(stale.code, 1);
    assert.equal(oneErrorLine(stale).code, 'version_conflict');
    const replaced = await run(['record', 'put', 'users', 'kim', '--file', file, '--if-match', v1], { env: appEnv });
    assert.equal(replaced.code, 0, replaced.stderr);
    const v2 = v1.replace('"1.', '"2.');
    assert.equal(replaced.stdout, `replaced users/kim (version 2, etag ${v2})\n`);
    // The same tag without its quotes (as a shell may leave it) is the same tag; the old one no longer matches.
    const again = await run(['record', 'put', 'users', 'kim', '--file', file, '--if-match', v1.slice(1, -1)], { env: appEnv });
    assert.equal(again.code, 1);
    assert.equal(oneErrorLine(again).code, 'version_conflict');
    const unquoted = await run(['record', 'put', 'users', 'kim', '--file', file, '--if-match', v2.slice(1, -1)], { env: appEnv });
    assert.equal(unquoted.code, 0, unquoted.stderr);
    assert.equal(unquoted.stdout, `replaced users/kim (version 3, etag ${v1.replace('"1.', '"3.')})\n`);

    const missing = await run(['record', 'put', 'users', 'nobody', '--file', '-'], { env: appEnv, input: JSON.stringify({ ...data, user_id: 'nobody' }) });
    assert.equal(missing.code, 1);
    assert.equal(oneErrorLine(missing).code, 'record_not_found');

    const message = await run(['record', 'put', 'messages', '--json', '--data', JSON.stringify({ sender_id: 'kim', recipient_id: 'lee', body: 'hi', sent_at: '2025-01-01T10:00:00Z' })], { env: appEnv });
    assert.equal(message.code, 0, message.stderr);
    const messageId = (JSON.parse(message.stdout) as { id: string }).id;

    const got = await run(['record', 'get', 'users', 'kim'], { env: appEnv });
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stdout, new RegExp(`^users/kim {2}subject kim {2}version 3 {2}etag ${v1.replace('"1.', '"3.')} `));
    assert.match(got.stdout, /^ {2}email +kim@example\.com$/m);
    assert.match(got.stdout, /^ {2}phone +\+1 555 0100$/m);

    const list = await run(['record', 'list', 'kim', '--json', '--page-size', '1'], { env: appEnv });
    assert.equal(list.code, 0, list.stderr);
    const ids = (JSON.parse(list.stdout) as { records: { collection: string; id: string }[] }).records.map((r) => `${r.collection}/${r.id}`);
    assert.deepEqual(ids.sort(), [`messages/${messageId}`, 'users/kim'].sort());

    const messageEtag = /etag ("[^"]+")/.exec((await run(['record', 'get', 'messages', messageId], { env: appEnv })).stdout)?.[1];
    assert.ok(messageEtag);
    // The list shows each record's ETag too (the server's list carries it), so a conditional change needs no get first.
    assert.ok((JSON.parse(list.stdout) as { records: { id: string; etag: string }[] }).records.some((r) => r.id === messageId && r.etag === messageEtag), list.stdout);
    const listed = await run(['record', 'list', 'kim'], { env: appEnv });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^messages/${messageId} {2}subject kim {2}version 1 {2}etag ${messageEtag} {2}updated `, 'm'));
    assert.match(listed.stdout, /^users\/kim {2}subject kim {2}version 3 {2}etag "3\.[0-9a-z]+" {2}updated /m);
    const staleDel = await run(['record', 'delete', 'messages', messageId, '--if-match', messageEtag.replace('"1.', '"2.')], { env: appEnv });
    assert.equal(staleDel.code, 1);
    assert.equal(oneErrorLine(staleDel).code, 'version_conflict');
    const del = await run(['record', 'delete', 'messages', messageId, '--if-match', messageEtag], { env: appEnv });
    assert.equal(del.code, 0, del.stderr);
    const gone = await run(['record', 'get', 'messages', messageId], { env: appEnv });
    assert.equal(gone.code, 1);
    assert.equal(oneErrorLine(gone).code, 'record_not_found');
  });

  it('subject rehome moves the subject and their records to the new jurisdiction', async () => {
    const r = await run(['subject', 'rehome', 'kim', '--country', 'DE'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 're-homed kim: us/trusted-us → eu/eu-central (1 record moved)\n');
    const show = await run(['subject', 'show', 'kim'], { env });
    assert.match(show.stdout, /^site +eu-central$/m);
    const got = await run(['record', 'get', 'users', 'kim', '--json'], { env: appEnv });
    assert.equal((JSON.parse(got.stdout) as { data: { email: string } }).data.email, 'kim@example.com');
  });

  it('erase without --yes and without a terminal refuses, then erase --yes shreds the subject', async () => {
    const refused = await run(['erase', 'kim'], { env });
    assert.equal(refused.code, 2);
    assert.match(oneErrorLine(refused).message, /refusing to erase kim without --yes/);
    const still = await run(['record', 'get', 'users', 'kim'], { env: appEnv });
    assert.equal(still.code, 0, 'nothing was erased');

    const erased = await run(['erase', 'kim', '--yes'], { env });
    assert.equal(erased.code, 0, erased.stderr);
    assert.match(erased.stdout, /^erased kim: their data key is destroyed; 1 record can never be read again$/m);
    const after = await run(['record', 'get', 'users', 'kim'], { env: appEnv });
    assert.equal(after.code, 1);
    assert.equal(oneErrorLine(after).code, 'subject_erased');
  });

  it('a bad token is one line, exit 1, and never echoed', async () => {
    const r = await run(['subject', 'show', 'kim'], { env: { ...env, ENCLAVE_TOKEN: 'enc_not-a-real-token-at-all' } });
    assert.equal(r.code, 1);
    assert.equal(oneErrorLine(r).code, 'unauthenticated');
    assert.doesNotMatch(r.stderr, /not-a-real-token/);
  });

  it('seal drops the keys; unseal --reset starts a fresh attempt', async () => {
    const sealed = await run(['seal'], { env });
    assert.equal(sealed.code, 0, sealed.stderr);
    assert.match(sealed.stdout, /^sealed/);
    const r = await run(['subject', 'register', 'late', '--country', 'US'], { env });
    assert.equal(oneErrorLine(r).code, 'sealed');
    await run(['unseal', '--share', shares[1] ?? ''], { env });
    const reset = await run(['unseal', '--reset'], { env });
    assert.equal(reset.stdout, 'unseal attempt reset; 0/2 shares entered; sealed\n');
  });

  it('the request log names requests but never tokens, shares or record values', () => {
    const log = server.stdout() + server.stderr();
    assert.match(log, /"url":"\/v1\/collections\/users\/records\/kim"/);
    assert.doesNotMatch(log, new RegExp(env.ENCLAVE_TOKEN?.slice(4) ?? 'unreachable'));
    for (const share of shares) assert.doesNotMatch(log, new RegExp(share.slice(20)));
    assert.doesNotMatch(log, /kim@example\.com/);
  });

  it('SIGTERM closes the server and the stores, exit 0', async () => {
    const code = await server.stop('SIGTERM');
    assert.equal(code, 0);
    assert.match(server.stderr(), /SIGTERM: closing the server and the stores/);
    const r = await run(['unseal', '--status'], { env });
    assert.equal(r.code, 1);
    assert.equal(oneErrorLine(r).code, 'unreachable');
  });
});

describe('enclave serve --dev-unseal', () => {
  let dir: string;
  let server: LongRunning | undefined;
  before(() => (dir = tempDir()));
  after(async () => {
    await server?.stop();
    killAll();
    removeDir(dir);
  });

  it('says DEVELOPMENT MODE on every start and serves unsealed', async () => {
    assert.equal((await run(['init', '--dir', dir, '--dev'])).code, 0);
    const config = join(dir, 'enclave.yaml');
    for (let start = 0; start < 2; start++) {
      server = await startListening(['serve', '--config', config, '--port', '0', '--dev-unseal']);
      assert.match(server.stderr(), /DEVELOPMENT MODE: auto-unsealed from \S*dev-unseal\.json; never use in production/);
      assert.match(server.stdout(), /unsealed\)/);
      const status = await run(['unseal', '--status', '--server', server.url]);
      assert.equal(status.stdout, 'unsealed\n');
      assert.equal(await server.stop('SIGINT'), 0);
    }
  });

  it('runs with the heap limits of its configuration, in the same process', async () => {
    const heapDir = join(dir, 'heap');
    assert.equal((await run(['init', '--dir', heapDir, '--dev'])).code, 0);
    const config = join(heapDir, 'enclave.yaml');
    writeFileSync(config, readFileSync(config, 'utf8').replace(/max_old_space_mb: \d+/, 'max_old_space_mb: 100'));
    server = await startListening(['serve', '--config', config, '--port', '0', '--dev-unseal']);
    const limit = Number(/Heap limit (\d+) MiB/.exec(server.stdout())?.[1]);
    // The old generation's 100 MiB plus the young generation's share (8 MiB semi-spaces).
    assert.ok(limit >= 100 && limit < 160, server.stdout());
    // And with glibc's malloc held to two arenas (heap-limits.ts), where the environment does not say otherwise.
    const environ = (pid: number | undefined) => readFileSync(`/proc/${String(pid)}/environ`, 'utf8').split('\0');
    if (process.platform === 'linux') assert.ok(environ(server.child.pid).includes('MALLOC_ARENA_MAX=2'));
    assert.equal((await run(['unseal', '--status', '--server', server.url])).stdout, 'unsealed\n');
    assert.equal(await server.stop('SIGTERM'), 0, 'the signal reaches the server (the process it replaced kept the pid)');
    assert.match(server.stderr(), /SIGTERM: closing the server and the stores/);
    if (process.platform === 'linux') {
      server = await startListening(['serve', '--config', config, '--port', '0'], { env: { MALLOC_ARENA_MAX: '4' } });
      assert.ok(environ(server.child.pid).includes('MALLOC_ARENA_MAX=4'), 'the operator\'s setting stays');
      assert.equal(await server.stop('SIGTERM'), 0, `ended by ${String(server.signal())}; stderr: ${server.stderr()}`);
      // The heap flags given, the variable missing: the restart is for the variable alone.
      server = await startListening(['serve', '--config', config, '--port', '0'], { env: { NODE_OPTIONS: '--max-old-space-size=100 --max-semi-space-size=8' } });
      assert.ok(environ(server.child.pid).includes('MALLOC_ARENA_MAX=2'));
      assert.equal(await server.stop('SIGTERM'), 0, `ended by ${String(server.signal())}; stderr: ${server.stderr()}`);
    }
  });

  it('without --dev-unseal, starts sealed and warns that the development file left in the data directory unseals without the officers', async () => {
    const leftover = join(dir, 'leftover');
    assert.equal((await run(['init', '--dir', leftover, '--dev'])).code, 0);
    server = await startListening(['serve', '--config', join(leftover, 'enclave.yaml'), '--port', '0']);
    assert.match(server.stdout(), /sealed\)/);
    const warning = /\S*dev-unseal\.json holds enough unseal shares to unseal this enclave without its officers .*delete it/;
    // stderr may arrive after the stdout line startListening waits for.
    for (const until = Date.now() + 10_000; !warning.test(server.stderr()) && Date.now() < until; ) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.match(server.stderr(), warning);
    await server.stop();
    server = undefined;
  });

  it('refuses --dev-unseal where init did not write the file', async () => {
    const plain = join(dir, 'plain');
    assert.equal((await run(['init', '--dir', plain])).code, 0);
    const r = await run(['serve', '--config', join(plain, 'enclave.yaml'), '--port', '0', '--dev-unseal']);
    assert.equal(r.code, 1);
    assert.match(oneErrorLine(r).message, /--dev-unseal: there is no \S*dev-unseal\.json/);
  });

  it('a port in use is one line, exit 1', async () => {
    server = await startListening(['serve', '--config', join(dir, 'enclave.yaml'), '--port', '0']);
    const port = new URL(server.url).port;
    const r = await run(['serve', '--config', join(dir, 'enclave.yaml'), '--port', port]);
    assert.equal(r.code, 1);
    const e = oneErrorLine(r);
    assert.equal(e.code, 'listen_failed');
    assert.match(e.message, /address is in use/);
  });
});
