// The directories the CLI creates where the person at the terminal said (`init --dir`, data_dir, `witness
// init --dir`, `demo --dir`), under /proc: a file system that answers ENOENT for a directory whose
// parent exists, on which Node's recursive mkdir loops for ever. Each is one line naming the directory
// that cannot be made and why, and a non-zero exit, at once (never a hang, never `internal`).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { starterConfig } from '../../src/services/starter-config.ts';
import { killAll, oneErrorLine, removeDir, run, tempDir } from './helpers.ts';

const NO_PROC = !existsSync('/proc/self') && 'no /proc here';
/** Long enough for a slow start of the CLI; a hang (the old recursive mkdir) never ends. */
const TIMEOUT_MS = 20_000;
const WHY = 'the file system does not allow creating it (ENOENT)';

describe('directories under /proc, where no directory can be made', { skip: NO_PROC }, () => {
  let root: string;
  before(() => {
    root = tempDir();
  });
  after(() => {
    killAll();
    removeDir(root);
  });

  // Each in a process of its own: a hang would be synchronous, and would stop this test runner too.

  it('enclave init --dir: one line naming the directory, exit 1', async () => {
    for (const [dir, failing] of [
      ['/proc/self/enclave-test/y', '/proc/self/enclave-test'],
      ['/proc/self/enclave-test', '/proc/self/enclave-test'],
    ] as const) {
      const r = await run(['init', '--dir', dir], { timeoutMs: TIMEOUT_MS });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, '');
      const e = oneErrorLine(r);
      assert.equal(e.code, 'invalid_argument', e.message);
      assert.equal(e.message, `cannot create the directory ${failing}: ${WHY}`);
    }
  });

  it('data_dir of an existing configuration: one line naming the directory, invalid_config, exit 1', async () => {
    const dir = join(root, 'data-dir');
    mkdirSync(dir);
    const text = starterConfig();
    assert.match(text, /^data_dir: data$/m);
    writeFileSync(join(dir, 'enclave.yaml'), text.replace(/^data_dir: data$/m, 'data_dir: /proc/self/enclave-test/data'));
    const r = await run(['init', '--dir', dir], { timeoutMs: TIMEOUT_MS });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '');
    const e = oneErrorLine(r);
    assert.equal(e.code, 'invalid_config', e.message);
    assert.equal(e.message, `cannot create the directory /proc/self/enclave-test: ${WHY}`);
    assert.ok(existsSync(join(dir, 'enclave.yaml')), 'the configuration that was there stays');
  });

  it('enclave witness init --dir: a usage line naming --dir and the directory, exit 2', async () => {
    const r = await run(['witness', 'init', '--dir', '/proc/self/enclave-test/w'], { timeoutMs: TIMEOUT_MS });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    const e = oneErrorLine(r);
    assert.equal(e.code, 'invalid_argument', e.message);
    assert.equal(e.message, `--dir /proc/self/enclave-test/w: cannot create the directory /proc/self/enclave-test: ${WHY}`);
  });

  it('enclave demo --dir: one line naming --dir and the directory, exit 1', async () => {
    const r = await run(['demo', '--users', '20', '--no-serve', '--dir', '/proc/self/enclave-test/demo'], { timeoutMs: TIMEOUT_MS });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '');
    const e = oneErrorLine(r);
    assert.equal(e.code, 'invalid_argument', e.message);
    assert.equal(e.message, `--dir /proc/self/enclave-test/demo: cannot create the directory /proc/self/enclave-test: ${WHY}; choose another --dir`);
  });
});
