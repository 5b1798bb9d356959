// Review of the CLI's and the configuration file's handling of hostile input: an option typed wrong
// with its value glued on (`--tokn=enc_…`) or a malformed --server carrying credentials is refused
// without echoing the secret; a configuration, a --file, a --vkey / --witness key file, a saved
// checkpoint (--since), a certificate or its key (migrate certificate) or a witness's key that is huge,
// or endless (/dev/zero), is refused before it is read whole; a YAML tag that resolves to nothing
// (`!!js/function`, `!foo`) is an error naming its line, not silently dropped; a non-scalar key is one
// error line, with no Node warning.
import assert from 'node:assert/strict';
import { openSync, closeSync, ftruncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EnclaveError } from '../../src/core/errors.ts';
import { generateNoteKey } from '../../src/core/tlog/note.ts';
import { loadConfig, parseConfigText } from '../../src/services/config-loader.ts';
import { loadMapping } from '../../src/services/migration/mapping-loader.ts';
import { starterConfig } from '../../src/services/starter-config.ts';
import { killAll, oneErrorLine, removeDir, run, runInProcess, tempDir, type RunResult } from './helpers.ts';

const SECRET = 'enc_Lqic1GTcSw08SyLfr-lV05Z-jOG07nc2oLLiqV5Igho';

let dir = '';
before(() => {
  dir = tempDir();
});
after(() => {
  killAll();
  removeDir(dir);
});

const cli = (...args: string[]) => runInProcess(args);

/** A sparse file of `bytes` zero bytes (instant, takes no disk). */
function sparse(name: string, bytes: number): string {
  const path = join(dir, name);
  const fd = openSync(path, 'w');
  ftruncateSync(fd, bytes);
  closeSync(fd);
  return path;
}

describe('a secret typed on the command line is not echoed by a usage error', () => {
  it('an unknown option with its value glued on (--tokn=…, -x…)', async () => {
    for (const args of [
      ['token', 'list', `--tokn=${SECRET}`],
      ['unseal', `--shares=${SECRET}`],
      ['token', 'list', `-x${SECRET}`],
    ]) {
      const r = await cli(...args);
      assert.equal(r.code, 2, r.stderr);
      const { code, message } = oneErrorLine(r);
      assert.equal(code, 'invalid_argument');
      assert.ok(!r.stderr.includes(SECRET.slice(4)), r.stderr);
      // It still names the option that was not recognized.
      assert.match(message, /unknown option '(--tokn|--shares|-x)/);
    }
  });

  it('a malformed --server with a user name and password', async () => {
    const r = await cli('token', 'list', '--server', 'http://alice:s3cr3t-pw@example.com:99999', '-t', SECRET);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(oneErrorLine(r).code, 'invalid_argument');
    assert.ok(!r.stderr.includes('s3cr3t-pw'), r.stderr);
  });
});

describe('files are read up to a limit, never whole whatever their size', () => {
  it('a configuration larger than 16 MiB is refused before it is read, naming the file', () => {
    const path = sparse('huge.yaml', 64 * 1024 * 1024 + 1);
    assert.throws(
      () => loadConfig(path),
      (err: unknown) => err instanceof EnclaveError && err.code === 'invalid_config' && err.message.includes(path) && /larger than 16 MiB/.test(err.message),
    );
  });

  it('an endless configuration (/dev/zero) is refused after the limit, not read until memory runs out', { skip: process.platform === 'win32' }, () => {
    assert.throws(
      () => loadConfig('/dev/zero'),
      (err: unknown) => err instanceof EnclaveError && err.code === 'invalid_config' && /larger than 16 MiB/.test(err.message),
    );
  });

  it('a mapping file is bounded the same way: huge or endless, one invalid_mapping error', { skip: process.platform === 'win32' }, () => {
    for (const path of [sparse('huge-mapping.yaml', 64 * 1024 * 1024 + 1), '/dev/zero']) {
      assert.throws(
        () => loadMapping(path),
        (err: unknown) => err instanceof EnclaveError && err.code === 'invalid_mapping' && /larger than 16 MiB/.test(err.message),
      );
    }
  });

  it('a configuration that is a directory is still one invalid_config line', async () => {
    const r = await run(['unseal', '--status', '--config', dir]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(oneErrorLine(r).code, 'invalid_config');
  });

  async function refusedFiles(files: readonly string[]): Promise<void> {
    for (const args of files.flatMap((file) => [
      ['record', 'put', 'users', '--file', file],
      ['policy', 'propose', '--file', file],
    ])) {
      const r = await cli(...args, '--server', 'http://127.0.0.1:9', '-t', SECRET);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      const { code, message } = oneErrorLine(r);
      assert.equal(code, 'invalid_argument');
      assert.match(message, /larger than 64 MiB/);
    }
  }

  it('record put --file and policy propose --file: a file larger than 64 MiB is a usage error', async () => {
    await refusedFiles([sparse('huge.json', 64 * 1024 * 1024 + 1)]);
  });

  it('record put --file and policy propose --file: an endless file (/dev/zero) is a usage error, not read until memory runs out', { skip: process.platform === 'win32' }, async () => {
    await refusedFiles(['/dev/zero']);
  });

  async function refusedKeyFiles(files: readonly string[]): Promise<void> {
    for (const args of files.flatMap((file) => [
      ['log', 'verify', '--url', 'http://127.0.0.1:9/log', '--vkey', file],
      ['log', 'verify', '--url', 'http://127.0.0.1:9/log', '--vkey', 'log+01020304+AQ', '--witness', file],
      ['log', 'proof', '--url', 'http://127.0.0.1:9/log', '--index', '0', '--vkey', file],
      ['log', 'search', '--server', 'http://127.0.0.1:9', '-t', SECRET, '--vkey', file],
    ])) {
      const r = await cli(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      const { code, message } = oneErrorLine(r);
      assert.equal(code, 'invalid_argument');
      assert.match(message, /larger than 64 KiB, so not a verifier key/);
    }
  }

  it('--vkey and --witness files larger than 64 KiB are a usage error, not read as a key', async () => {
    await refusedKeyFiles([sparse('huge.vkey', 64 * 1024 + 1)]);
  });

  it('--vkey and --witness: an endless file (/dev/zero) is a usage error, not read until memory runs out', { skip: process.platform === 'win32' }, async () => {
    await refusedKeyFiles(['/dev/zero']);
  });

  /** Exit 2 and one invalid_argument line matching `why`. */
  function refused(r: RunResult, args: readonly string[], why: RegExp): void {
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    const { code, message } = oneErrorLine(r);
    assert.equal(code, 'invalid_argument', r.stderr);
    assert.match(message, why);
  }

  it('log verify --since: a file larger than a signed note may be (1 MiB) is a usage error, not read as a checkpoint', async () => {
    const args = ['log', 'verify', '--url', 'http://127.0.0.1:9/log', '--vkey', 'log+01020304+AQ', '--since', sparse('huge-checkpoint.txt', 1024 * 1024 + 1)];
    refused(await cli(...args), args, /--since .*: larger than 1 MiB, so not a checkpoint/);
  });

  it('migrate certificate --file: a file larger than a signed note may be (1 MiB) is a usage error, not read as a certificate', async () => {
    const args = ['migrate', 'certificate', '--file', sparse('huge.cert', 1024 * 1024 + 1), '--key', 'enclave+01020304+AQ'];
    refused(await cli(...args), args, /--file .*: larger than 1 MiB, so not a deletion certificate/);
  });

  it('migrate certificate --key @file: a file larger than 64 KiB is a usage error, not read as a key', async () => {
    const cert = join(dir, 'small.cert');
    writeFileSync(cert, 'not a certificate\n');
    const args = ['migrate', 'certificate', '--file', cert, '--key', `@${sparse('huge-cert.vkey', 64 * 1024 + 1)}`];
    refused(await cli(...args), args, /--key @.*: larger than 64 KiB, so not a verifier key/);
  });

  it('witness serve: a witness.key larger than 64 KiB is a usage error, not read as a key', async () => {
    const witness = join(dir, 'witness');
    const init = await cli('witness', 'init', '--dir', witness);
    assert.equal(init.code, 0, init.stderr);
    // Replaced by a file far larger than a key's one line.
    const key = join(witness, 'witness.key');
    const fd = openSync(key, 'w');
    ftruncateSync(fd, 64 * 1024 + 1);
    closeSync(fd);
    const args = ['witness', 'serve', '--dir', witness, '--log', generateNoteKey('example.com/log').vkey, '--port', '0'];
    // A child process: a witness that does start is ended by the timeout instead of holding the test.
    refused(await run(args, { timeoutMs: 30_000 }), args, /witness\.key: larger than 64 KiB, so not a witness key/);
  });
});

describe('YAML tags and keys the configuration cannot mean', () => {
  const base = starterConfig();
  for (const [what, tagged] of [
    ['!!js/function', 'name: !!js/function "function () { return 1 }"'],
    ['a local tag', 'name: !foo enclave'],
    ['!!float on a string', 'name: !!float 1'],
  ] as const) {
    it(`an unresolved tag (${what}) is invalid_config naming its line, not silently dropped`, () => {
      const text = base.replace('name: enclave', tagged);
      assert.notEqual(text, base);
      assert.throws(
        () => parseConfigText(text, 'enclave.yaml', dir),
        (err: unknown) => err instanceof EnclaveError && err.code === 'invalid_config' && /^enclave\.yaml:3:\d+: invalid YAML: .*tag/i.test(err.message),
      );
    });
  }

  it('a key that is a collection is one error line, without a Node warning on stderr', async () => {
    const path = join(dir, 'collection-key.yaml');
    writeFileSync(path, base.replace('name: enclave', 'name: enclave\n? [a, b]\n: 1'));
    const r = await run(['unseal', '--status', '--config', path]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(oneErrorLine(r).code, 'invalid_config');
  });
});
