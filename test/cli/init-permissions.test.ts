// `enclave init` makes the data directory the enclave user's alone, also when it existed with loose
// permissions, and every file it and the stores create there 0600, whatever the umask; where it cannot
// (a directory of another user, a file system that ignores permissions) it refuses with one line.
// In-process, so that the umask and node:fs can be changed for the test.
import assert from 'node:assert/strict';
import fs, { chmodSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import { runCli } from '../../src/cli/program.ts';
import { loadConfig } from '../../src/services/config-loader.ts';
import { openEnclave } from '../../src/services/enclave.ts';
import { memoryIo, oneErrorLine, removeDir, tempDir } from './helpers.ts';

const POSIX = process.platform !== 'win32';
const mode = (path: string) => statSync(path).mode & 0o777;
const octal = (m: number) => m.toString(8).padStart(4, '0');

async function init(dir: string): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await runCli(['init', '--dir', dir, '--dev'], io);
  await new Promise((r) => setImmediate(r));
  return { code, out: io.out(), err: io.err() };
}

/** A pre-existing data directory open to everyone. */
function looseDataDir(dir: string): string {
  const data = join(dir, 'data');
  mkdirSync(data, { recursive: true });
  chmodSync(data, 0o777);
  assert.equal(mode(data), 0o777);
  return data;
}

/** Replaces node:fs's chmodSync (for the code's named imports too) while `fn` runs. */
async function withChmod<T>(impl: (path: fs.PathLike, m: fs.Mode) => void, fn: () => Promise<T>): Promise<T> {
  const m = mock.method(fs, 'chmodSync', impl);
  syncBuiltinESMExports();
  try {
    return await fn();
  } finally {
    m.mock.restore();
    syncBuiltinESMExports();
  }
}

describe('enclave init: a private data directory', { skip: POSIX ? false : 'POSIX permissions only' }, () => {
  let root: string;
  let umask: number;
  before(() => {
    root = tempDir();
    umask = process.umask(0o000); // as permissive as it gets: everything created is open to everyone unless set
  });
  after(() => {
    process.umask(umask);
    removeDir(root);
  });

  it('tightens an existing 0777 data directory to 0700, and every file in it is 0600 (the stores with their WAL files too)', async () => {
    const dir = join(root, 'loose');
    const data = looseDataDir(dir);
    const r = await init(dir);
    assert.equal(r.code, 0, r.err);
    assert.equal(octal(mode(data)), '0700');
    // Open the stores again, so that their -wal and -shm files exist while we look.
    const enclave = await openEnclave(loadConfig(join(dir, 'enclave.yaml')));
    try {
      const entries = readdirSync(data, { recursive: true, encoding: 'utf8' });
      for (const f of ['control.db', 'control.db-wal', 'control.db-shm', 'dev-unseal.json']) assert.ok(entries.includes(f), `${f} in ${entries.join(', ')}`);
      assert.ok(entries.some((f) => f.endsWith('.db-wal') && f !== 'control.db-wal'), `the sites' stores too: ${entries.join(', ')}`);
      const loose = entries
        .map((f) => ({ f, m: mode(join(data, f)), dir: statSync(join(data, f)).isDirectory() }))
        .filter(({ m, dir }) => m !== (dir ? 0o700 : 0o600))
        .map(({ f, m }) => `${f} ${octal(m)}`);
      assert.deepEqual(loose, [], 'every file below the data directory is 0600, every directory 0700');
    } finally {
      await enclave.close();
    }
  });

  it('refuses with one line when the directory cannot be made private, and creates no store in it', async () => {
    const dir = join(root, 'not-ours');
    const data = looseDataDir(dir);
    const eperm = () => {
      throw Object.assign(new Error('EPERM: operation not permitted, chmod'), { code: 'EPERM' });
    };
    const r = await withChmod(eperm, () => init(dir));
    assert.equal(r.code, 1);
    const failure = oneErrorLine({ code: r.code, signal: null, stdout: r.out, stderr: r.err });
    assert.equal(failure.code, 'data_dir_insecure');
    assert.match(failure.message, /cannot make .*data private to this user \(mode 0700\): EPERM; run as its owner/);
    assert.equal(r.out, '');
    assert.deepEqual(readdirSync(data), [], 'no store was created in the open directory');
  });

  it('refuses when the file system keeps the mode it had (chmod does nothing there)', async () => {
    const dir = join(root, 'no-modes');
    looseDataDir(dir);
    const r = await withChmod(() => {}, () => init(dir));
    assert.equal(r.code, 1);
    assert.match(oneErrorLine({ code: r.code, signal: null, stdout: r.out, stderr: r.err }).message, /\(mode 0700\): it is still 0777 after chmod/);
    assert.equal(existsSync(join(dir, 'data', 'control.db')), false);
  });
});
