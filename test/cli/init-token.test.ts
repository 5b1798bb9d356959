// `enclave init` and `enclave token`, as real processes on a temporary directory.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { killAll, oneErrorLine, removeDir, run, tempDir } from './helpers.ts';

const SHARE = /enclave-share-v1-[A-Za-z0-9_-]+/g;

describe('enclave init', () => {
  let dir: string;
  before(() => (dir = tempDir()));
  after(() => {
    killAll();
    removeDir(dir);
  });

  it('writes a commented configuration and the data directory, and prints one share per officer once', async () => {
    const target = join(dir, 'prod');
    const r = await run(['init', '--dir', target, '--officers', 'ana,ben,cleo,dev', '--threshold', '3']);
    assert.equal(r.code, 0, r.stderr);
    const config = readFileSync(join(target, 'enclave.yaml'), 'utf8');
    assert.match(config, /^# Enclave configuration/);
    assert.match(config, /threshold: 3\n\s+officers: \[ana, ben, cleo, dev\]/);
    assert.ok(statSync(join(target, 'data')).isDirectory());
    assert.equal(statSync(join(target, 'data')).mode & 0o077, 0, 'the data directory is private');
    const shares = r.stdout.match(SHARE) ?? [];
    assert.equal(shares.length, 4);
    assert.equal(new Set(shares).size, 4);
    for (const officer of ['ana', 'ben', 'cleo', 'dev']) assert.match(r.stdout, new RegExp(`^ {2}${officer} +enclave-share-v1-`, 'm'));
    assert.match(r.stdout, /any 3 of these 4/);
    assert.match(r.stdout, /SHOWN ONCE/);
    assert.equal(existsSync(join(target, 'data', 'dev-unseal.json')), false);
    // The shares are stored nowhere.
    for (const share of shares) assert.doesNotMatch(config, new RegExp(share));
  });

  it('a second init refuses with one line and changes nothing', async () => {
    const target = join(dir, 'prod');
    const before = readFileSync(join(target, 'enclave.yaml'), 'utf8');
    const r = await run(['init', '--dir', target]);
    assert.equal(r.code, 1);
    assert.equal(oneErrorLine(r).code, 'already_initialized');
    assert.equal(r.stdout, '');
    assert.equal(readFileSync(join(target, 'enclave.yaml'), 'utf8'), before);
  });

  it('--officers on an existing configuration is a usage error', async () => {
    const r = await run(['init', '--dir', join(dir, 'prod'), '--officers', 'x,y']);
    assert.equal(r.code, 2);
    assert.match(oneErrorLine(r).message, /already exists; set seal.officers/);
  });

  it('--dev writes the auto-unseal file and says so', async () => {
    const target = join(dir, 'dev');
    const r = await run(['init', '--dir', target, '--dev', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { shares: { officer: string; share: string }[]; threshold: number; dev_unseal_file: string };
    assert.equal(result.shares.length, 3);
    assert.equal(result.threshold, 2);
    assert.equal(statSync(result.dev_unseal_file).mode & 0o777, 0o600);
    assert.match(r.stderr, /DEVELOPMENT MODE: wrote .*dev-unseal\.json.*never use in production/);
  });

  it('a bad configuration file is one line naming the key, exit 1', async () => {
    const good = readFileSync(join(dir, 'prod', 'enclave.yaml'), 'utf8');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, good.replace('port: 8700', 'port: eighty'));
    for (const args of [['token', 'list'], ['serve']]) {
      const r = await run([...args, '--config', bad]);
      assert.equal(r.code, 1, r.stderr);
      const e = oneErrorLine(r);
      assert.equal(e.code, 'invalid_config');
      assert.match(e.message, /server\.port must be an integer/);
    }
    writeFileSync(bad, good.replace('port: 8700', 'port: eighty').replace('threshold: 3', 'threshold: 1'));
    const r = await run(['token', 'list', '--config', bad]);
    assert.equal(r.code, 1);
    assert.match(oneErrorLine(r).message, /2 problems: .*server\.port.*; .*seal\.threshold/);
  });

  it('a missing configuration file says how to create one', async () => {
    const r = await run(['token', 'list', '--config', join(dir, 'nowhere.yaml')]);
    assert.equal(r.code, 1);
    assert.match(oneErrorLine(r).message, /no configuration at .*nowhere\.yaml \(run `enclave init`/);
  });
});

describe('enclave token', () => {
  let dir: string;
  let config: string;
  before(async () => {
    dir = tempDir();
    const r = await run(['init', '--dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    config = join(dir, 'enclave.yaml');
  });
  after(() => {
    killAll();
    removeDir(dir);
  });

  it('create prints the secret once with its id; list never shows it; revoke marks it revoked', async () => {
    const created = await run(['token', 'create', '--config', config, '--principal', 'app', '--org', 'platform', '--role', 'service', '--label', 'ci']);
    assert.equal(created.code, 0, created.stderr);
    const secret = /^secret +(enc_[A-Za-z0-9_-]{43})$/m.exec(created.stdout)?.[1];
    const id = /^id +(tok_[A-Za-z0-9_-]+)$/m.exec(created.stdout)?.[1];
    assert.ok(secret && id, created.stdout);
    assert.match(created.stdout, /app \(platform\/service\)/);

    const listed = await run(['token', 'list', '--config', config]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^${id} +app +platform/service +active .* ci$`, 'm'));
    assert.doesNotMatch(listed.stdout, new RegExp(secret.slice(4)));

    const revoked = await run(['token', 'revoke', id, '--config', config]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(revoked.stdout, `revoked ${id}\n`);

    const json = await run(['token', 'list', '--config', config, '--json']);
    const rows = JSON.parse(json.stdout) as { id: string; state: string; revoked_at: string | null }[];
    const row = rows.find((t) => t.id === id);
    assert.equal(row?.state, 'revoked');
    assert.notEqual(row?.revoked_at, null);
    assert.doesNotMatch(json.stdout, new RegExp(secret.slice(4)));
  });

  it('create --json --ttl gives an expiry', async () => {
    const r = await run(['token', 'create', '-c', config, '--principal', 'alice', '--org', 'gatekeeper', '--role', 'officer', '--ttl', '3600', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const t = JSON.parse(r.stdout) as { id: string; secret: string; expires_at: string };
    assert.match(t.secret, /^enc_/);
    const ttl = Date.parse(t.expires_at) - Date.now();
    assert.ok(ttl > 3500_000 && ttl <= 3600_000, String(ttl));
  });

  it('ENCLAVE_CONFIG names the configuration', async () => {
    const r = await run(['token', 'list', '--json'], { env: { ENCLAVE_CONFIG: config } });
    assert.equal(r.code, 0, r.stderr);
    assert.ok((JSON.parse(r.stdout) as unknown[]).length >= 2);
  });

  it('an unknown org or role, or revoking an unknown token, is one line, exit 1', async () => {
    const badRole = await run(['token', 'create', '-c', config, '--principal', 'x', '--org', 'platform', '--role', 'admin']);
    assert.equal(badRole.code, 1);
    assert.match(oneErrorLine(badRole).message, /org "platform" has no role "admin" \(expected one of: service\)/);
    const badOrg = await run(['token', 'create', '-c', config, '--principal', 'x', '--org', 'nasa', '--role', 'admin']);
    assert.equal(badOrg.code, 1);
    assert.match(oneErrorLine(badOrg).message, /unknown org "nasa"/);
    const unknown = await run(['token', 'revoke', 'tok_nope', '-c', config]);
    assert.equal(unknown.code, 1);
    assert.match(oneErrorLine(unknown).message, /no active token with id "tok_nope"/);
  });

  it('refuses an enclave that was never initialized', async () => {
    const empty = tempDir();
    try {
      writeFileSync(join(empty, 'enclave.yaml'), readFileSync(config, 'utf8'));
      const r = await run(['token', 'list', '-c', join(empty, 'enclave.yaml')]);
      assert.equal(r.code, 1);
      assert.equal(oneErrorLine(r).code, 'not_initialized');
    } finally {
      removeDir(empty);
    }
  });
});
