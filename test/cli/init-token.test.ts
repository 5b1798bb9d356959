// `enclave init` as a real process on a temporary directory: the starter configuration, the unseal
// shares and the bootstrap tokens, each printed once.
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
    // One bootstrap token per officer; every later token needs a quorum.
    const tokens = [...r.stdout.matchAll(/^ {2}(ana|ben|cleo|dev) +(enc_[A-Za-z0-9_-]{43})$/gm)].map((m) => m[2]);
    assert.equal(tokens.length, 4, r.stdout);
    assert.equal(new Set(tokens).size, 4);
    assert.match(r.stdout, /enclave token create --config .* --principal app/);
    for (const t of tokens) assert.doesNotMatch(config, new RegExp(t?.slice(4) ?? 'x'));
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
    const result = JSON.parse(r.stdout) as { shares: { officer: string; share: string }[]; tokens: { officer: string; secret: string }[]; threshold: number; dev_unseal_file: string };
    assert.equal(result.shares.length, 3);
    assert.deepEqual(result.tokens.map((t) => t.officer), ['alice', 'bob', 'carol']);
    assert.equal(result.threshold, 2);
    assert.equal(statSync(result.dev_unseal_file).mode & 0o777, 0o600);
    assert.match(r.stderr, /DEVELOPMENT MODE: wrote .*dev-unseal\.json.*never use in production/);
  });

  it('a bad configuration file is one line naming the key, exit 1', async () => {
    const good = readFileSync(join(dir, 'prod', 'enclave.yaml'), 'utf8');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, good.replace('port: 8700', 'port: eighty'));
    const r1 = await run(['serve', '--config', bad]);
    assert.equal(r1.code, 1, r1.stderr);
    const e = oneErrorLine(r1);
    assert.equal(e.code, 'invalid_config');
    assert.match(e.message, /server\.port must be an integer/);
    writeFileSync(bad, good.replace('port: 8700', 'port: eighty').replace('threshold: 3', 'threshold: 1'));
    const r = await run(['serve', '--config', bad]);
    assert.equal(r.code, 1);
    assert.match(oneErrorLine(r).message, /2 problems: .*server\.port.*; .*seal\.threshold/);
  });

  it('a missing configuration file says how to create one', async () => {
    const r = await run(['serve', '--config', join(dir, 'nowhere.yaml')]);
    assert.equal(r.code, 1);
    assert.match(oneErrorLine(r).message, /no configuration at .*nowhere\.yaml \(run `enclave init`/);
  });
});

describe('an enclave that was never initialized', () => {
  it('is refused by serve with one line', async () => {
    const dir = tempDir();
    const empty = tempDir();
    try {
      assert.equal((await run(['init', '--dir', dir])).code, 0);
      writeFileSync(join(empty, 'enclave.yaml'), readFileSync(join(dir, 'enclave.yaml'), 'utf8'));
      const r = await run(['serve', '-c', join(empty, 'enclave.yaml')]);
      assert.equal(r.code, 1);
      assert.equal(oneErrorLine(r).code, 'not_initialized');
    } finally {
      removeDir(empty);
      removeDir(dir);
    }
  });
});
