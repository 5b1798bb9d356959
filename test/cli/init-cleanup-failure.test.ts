// A failed `enclave init` removes what it created; when that removal fails too, the reason init failed
// is still the one reported, with what could not be removed after it in the same line. In-process, so
// that node:fs can fail the removal on purpose (a read-only directory would not: root may write there).
import assert from 'node:assert/strict';
import fs, { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import { runCli } from '../../src/cli/program.ts';
import { memoryIo, oneErrorLine, removeDir, tempDir } from './helpers.ts';

describe('enclave init: a cleanup that fails does not hide why init failed', () => {
  let root: string;
  before(() => {
    root = tempDir();
  });
  after(() => removeDir(root));

  it('the original error, its code and its words, then what could not be removed', async () => {
    const dir = join(root, 'data-is-a-file');
    mkdirSync(dir);
    writeFileSync(join(dir, 'data'), '');
    const config = join(dir, 'enclave.yaml');
    const m = mock.method(fs, 'rmSync', () => {
      throw Object.assign(new Error(`EACCES: permission denied, rm '${config}'`), { code: 'EACCES' });
    });
    syncBuiltinESMExports();
    const io = memoryIo();
    let code: number;
    try {
      code = await runCli(['init', '--dir', dir], io);
    } finally {
      m.mock.restore();
      syncBuiltinESMExports();
    }
    await new Promise((r) => setImmediate(r));
    assert.equal(code, 1, io.err());
    assert.equal(io.out(), '');
    assert.ok(m.mock.callCount() > 0, 'init tried to remove what it created');
    const e = oneErrorLine({ code, signal: null, stdout: io.out(), stderr: io.err() });
    assert.equal(e.code, 'invalid_argument', e.message);
    assert.equal(
      e.message,
      `cannot create the directory ${join(dir, 'data')}: exists and is not a directory; and init could not remove what it had created: ${config} (permission denied)`,
    );
    assert.deepEqual(readdirSync(dir).sort(), ['data', 'enclave.yaml'], 'the starter configuration stayed, as the message says');
  });
});
