// A failed `enclave init` says what is wrong in one line and leaves nothing behind that blocks the
// corrected retry: no starter configuration, no data directory it made, and above all no root key whose
// shares nobody was shown (that enclave could never be unsealed). In-process, so that node:fs can fail
// on purpose after the root key is created.
import assert from 'node:assert/strict';
import fs, { existsSync, mkdirSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import { runCli } from '../../src/cli/program.ts';
import { loadConfig } from '../../src/services/config-loader.ts';
import { openEnclave } from '../../src/services/enclave.ts';
import { memoryIo, oneErrorLine, removeDir, tempDir } from './helpers.ts';

interface Outcome {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

async function init(...args: string[]): Promise<Outcome> {
  const io = memoryIo();
  const code = await runCli(['init', ...args], io);
  await new Promise((r) => setImmediate(r));
  return { code, out: io.out(), err: io.err() };
}

/** The one error line of a failed init (asserts that it is one line, without a stack trace). */
function failure(r: Outcome): { code: string; message: string } {
  assert.notEqual(r.code, 0, 'init failed');
  assert.equal(r.out, '', 'nothing on stdout: no shares or tokens of a key that is not kept');
  return oneErrorLine({ code: r.code, signal: null, stdout: r.out, stderr: r.err });
}

/** Asserts that the shares printed by a successful `init --json` unseal the enclave in `dir`. */
async function assertSharesUnseal(dir: string, r: Outcome): Promise<void> {
  assert.equal(r.code, 0, r.err);
  const result = JSON.parse(r.out) as { threshold: number; shares: { share: string }[] };
  const enclave = await openEnclave(loadConfig(join(dir, 'enclave.yaml')));
  try {
    for (const { share } of result.shares.slice(0, result.threshold)) await enclave.seal.submit(share);
    assert.equal(enclave.seal.status().sealed, false, 'the printed shares unseal the enclave');
  } finally {
    await enclave.close();
  }
}

describe('enclave init: a failure leaves nothing that blocks the retry', () => {
  let root: string;
  before(() => {
    root = tempDir();
  });
  after(() => removeDir(root));

  it('a directory where --dev writes its unseal file: refused in one line before the root key exists, and the retry works', async () => {
    const dir = join(root, 'dev-file-taken');
    const devFile = join(dir, 'data', 'dev-unseal.json');
    mkdirSync(devFile, { recursive: true });
    const f = failure(await init('--dir', dir, '--dev'));
    assert.notEqual(f.code, 'internal');
    assert.match(f.message, /dev-unseal\.json/);
    rmdirSync(devFile);
    await assertSharesUnseal(dir, await init('--dir', dir, '--dev', '--json'));
  });

  it('more than 255 officers: refused up front like fewer than two, and the same directory then takes a correct init', async () => {
    const dir = join(root, 'too-many');
    const officers = Array.from({ length: 300 }, (_, i) => `o${i + 1}`).join(',');
    const f = failure(await init('--dir', dir, '--officers', officers));
    assert.equal(f.code, 'invalid_argument');
    assert.match(f.message, /at most 255/);
    assert.equal(existsSync(join(dir, 'enclave.yaml')), false, 'no starter configuration left behind');
    await assertSharesUnseal(dir, await init('--dir', dir, '--officers', 'a,b', '--json'));
  });

  it('a file where the data directory goes: refused in one line, no starter configuration left, and the retry works', async () => {
    const dir = join(root, 'data-is-a-file');
    mkdirSync(dir);
    writeFileSync(join(dir, 'data'), '');
    const f = failure(await init('--dir', dir, '--officers', 'dan,erin,frank', '--threshold', '3'));
    assert.notEqual(f.code, 'internal');
    assert.match(f.message, /data/);
    assert.deepEqual(readdirSync(dir), ['data'], 'only what was there before');
    rmSync(join(dir, 'data'));
    await assertSharesUnseal(dir, await init('--dir', dir, '--officers', 'dan,erin,frank', '--threshold', '3', '--json'));
  });

  /** Runs init with node:fs failing on the write of the development unseal file, after the root key is stored. */
  async function initWithFullDisk(dir: string): Promise<Outcome> {
    const real = fs.writeFileSync;
    const m = mock.method(fs, 'writeFileSync', (...args: Parameters<typeof fs.writeFileSync>) => {
      if (typeof args[1] === 'string' && args[1].includes('DEVELOPMENT ONLY')) {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }
      real(...args);
    });
    syncBuiltinESMExports();
    try {
      return await init('--dir', dir, '--dev');
    } finally {
      m.mock.restore();
      syncBuiltinESMExports();
    }
  }

  it('a failure after the root key is created (the disk fills up) undoes the init, so the retry creates a key and shows its shares', async () => {
    const dir = join(root, 'disk-full');
    assert.match(failure(await initWithFullDisk(dir)).message, /ENOSPC/);
    assert.equal(existsSync(dir), false, 'the directory it made is gone again');
    await assertSharesUnseal(dir, await init('--dir', dir, '--dev', '--json'));
  });

  it('the same in a data directory that existed: the stores it created are removed, the directory stays', async () => {
    const dir = join(root, 'disk-full-existing');
    mkdirSync(join(dir, 'data'), { recursive: true, mode: 0o700 });
    failure(await initWithFullDisk(dir));
    assert.deepEqual(readdirSync(dir), ['data']);
    assert.deepEqual(readdirSync(join(dir, 'data')), []);
    await assertSharesUnseal(dir, await init('--dir', dir, '--dev', '--json'));
  });
});
