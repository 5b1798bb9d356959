// The stores a configuration names, as `enclave init`, `serve` and `migrate` meet them: a storage URL
// that cannot be opened is one line naming the configuration file and its key; a SQLite path that is a
// directory, or under a file, or where no directory can be made (/proc), is one line naming the path
// and why, at once (never `internal`, never a hang).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../src/cli/program.ts';
import { starterConfig } from '../../src/services/starter-config.ts';
import { killAll, memoryIo, oneErrorLine, removeDir, run, tempDir } from './helpers.ts';

interface Outcome {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

async function cli(...args: string[]): Promise<Outcome> {
  const io = memoryIo();
  const code = await runCli(args, io);
  await new Promise((r) => setImmediate(r));
  return { code, out: io.out(), err: io.err() };
}

function failure(r: Outcome): { code: string; message: string } {
  assert.equal(r.code, 1, r.err);
  assert.equal(r.out, '');
  return oneErrorLine({ code: r.code, signal: null, stdout: r.out, stderr: r.err });
}

/** The starter configuration with the second site's (eu-central, a home site) storage replaced. */
const SITE_STORAGE = 'storage: sqlite:sites/eu-central.db';

describe('storage URLs and store paths of the configuration', () => {
  let root: string;
  let n = 0;
  before(() => {
    root = tempDir();
  });
  after(() => {
    killAll();
    removeDir(root);
  });

  /** A directory holding enclave.yaml: the starter configuration with `edit` applied. */
  function configured(edit: (text: string) => string): { dir: string; config: string } {
    const dir = join(root, `e${++n}`);
    mkdirSync(dir);
    const text = starterConfig();
    assert.ok(text.includes(SITE_STORAGE));
    const config = join(dir, 'enclave.yaml');
    writeFileSync(config, edit(text));
    return { dir, config };
  }
  const siteStorage = (url: string) => (text: string) => text.replace(SITE_STORAGE, `storage: ${url}`);

  it('a storage URL that cannot be opened names the configuration file and the key, for init, serve and migrate', async () => {
    const cases: [edit: (text: string) => string, key: string, why: RegExp][] = [
      [siteStorage('mysql://eu:s3cret@db.example/eu'), 'sites[1].storage', /must start with "sqlite:", "postgres:\/\/" or "postgresql:\/\/" \(got scheme "mysql"\)/],
      [siteStorage('postgres://eu:s3cret@[bad/eu'), 'sites[1].storage', /not a valid URL/],
      [siteStorage("'sqlite:'"), 'sites[1].storage', /names no file/],
      [(t) => t.replace('storage: sqlite:control.db', 'storage: postgresql://h/db?pool_size=0'), 'control.storage', /pool_size must be an integer from 1 to 1000/],
      [(t) => t.replace('storage: sqlite:log.db', 'storage: ftp://log'), 'log.storage', /got scheme "ftp"/],
    ];
    for (const [edit, key, why] of cases) {
      const { dir, config } = configured(edit);
      const e = failure(await cli('init', '--dir', dir));
      assert.equal(e.code, 'invalid_config', e.message);
      assert.ok(e.message.startsWith(`${config}: ${key}: `), e.message);
      assert.match(e.message, why);
      assert.doesNotMatch(e.message, /s3cret/);
      assert.equal(existsSync(join(dir, 'data')), false, 'nothing created');
    }
    // An enclave whose configuration is edited after init: serve and migrate say the same.
    const { dir, config } = configured((t) => t);
    assert.equal((await cli('init', '--dir', dir)).code, 0);
    writeFileSync(config, siteStorage('mysql://eu@db.example/eu')(readFileSync(config, 'utf8')));
    // A mapping that parses (its source is never opened: the configuration is refused first).
    const mapping = join(dir, 'unused.yaml');
    writeFileSync(mapping, 'version: 1\nname: unused\nsource: { sqlite: nowhere.db }\nsubjects: { table: accounts, id: user_uid, country: country }\ntables:\n  - { table: accounts, collection: users, fields: { user_id: user_uid } }\n');
    for (const args of [['serve', '--port', '0'], ['migrate', 'plan', '--mapping', mapping], ['migrate', 'run', '--mapping', mapping, '--dev-unseal']]) {
      const r = await run([...args, '--config', config], { timeoutMs: 30_000 });
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      const e = oneErrorLine(r);
      assert.equal(e.code, 'invalid_config', `${args.join(' ')}: ${e.message}`);
      assert.ok(e.message.startsWith(`${config}: sites[1].storage: storage URL must start with`), `${args.join(' ')}: ${e.message}`);
    }
  });

  it('a SQLite store path that is a directory, or under a file: one line naming the path and why', async () => {
    const taken = join(root, 'a-directory');
    mkdirSync(taken);
    const file = join(root, 'a-file');
    writeFileSync(file, '');
    for (const [path, why] of [
      [taken, 'is a directory'],
      [`${taken}/`, 'is a directory'],
      [join(file, 'x.db'), 'a part of the path is a file, not a directory'],
    ] as const) {
      const { dir } = configured(siteStorage(`sqlite:${path}`));
      const e = failure(await cli('init', '--dir', dir));
      assert.notEqual(e.code, 'internal', e.message);
      assert.equal(e.message, `cannot open SQLite store at ${path}: ${why}`);
    }
  });

  it('a SQLite store under /proc, where no directory can be made, fails at once instead of hanging', { skip: !existsSync('/proc/self') && 'no /proc here' }, async () => {
    for (const path of ['/proc/self/enclave-test/x.db', '/proc/enclave-test/sub/x.db', '/proc/self/x.db']) {
      const { dir } = configured(siteStorage(`sqlite:${path}`));
      // In a process of its own: a hang would be synchronous, and would stop this test runner too.
      const r = await run(['init', '--dir', dir], { timeoutMs: 20_000 });
      assert.equal(r.code, 1, r.stderr);
      const e = oneErrorLine(r);
      assert.equal(e.code, 'storage_unavailable', e.message);
      assert.ok(e.message.startsWith(`cannot open SQLite store at ${path}: `), e.message);
    }
  });
});
