// What the CLI does with what it is handed when that is wrong: a bearer token that is no token is refused
// without being printed; a configuration that is given but does not load stops a client command before
// its token goes anywhere; a reader that closes stdout early ends the command quietly; an output path that
// cannot be written is one line naming it, and no temporary file stays behind.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { send } from '../../src/cli/api-client.ts';
import { StaticLog } from '../core/tlog/static-log.ts';
import { begin, killAll, oneErrorLine, removeDir, run, runInProcess, type RunResult, tempDir } from './helpers.ts';

const T1 = 'enc_Lqic1GTcSw08SyLfr-lV05Z-jOG07nc2oLLiqV5Igho';
const T2 = 'enc_vkSxtHSfYEElqzU-f3GFBQH2Hiy3ASLL_FYNZ3-ZcXA';

let server: Server;
let base = '';
let log: StaticLog;
/** The headers of every request the server got. */
const seen: IncomingHttpHeaders[] = [];
let dir = '';

before(async () => {
  dir = tempDir();
  log = new StaticLog();
  log.append(40);
  await log.publish();
  server = createServer((req, res) => {
    seen.push(req.headers);
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path.startsWith('/log/')) {
      const data = log.resources.get(path.slice('/log/'.length));
      res.writeHead(data === undefined ? 404 : 200).end(data === undefined ? '' : Buffer.from(data));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ tokens: [] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  killAll();
  await new Promise((resolve) => server.close(resolve));
  removeDir(dir);
});

const cli = (...args: string[]) => runInProcess(args);

/** A usage error (exit 2, invalid_argument) that shows neither token. */
function refusedUnshown(r: RunResult): void {
  assert.equal(r.code, 2, r.stderr);
  assert.equal(oneErrorLine(r).code, 'invalid_argument');
  assert.ok(!r.stderr.includes(T1.slice(4)) && !r.stderr.includes(T2.slice(4)), r.stderr);
}

describe('a bearer token is never printed', () => {
  it('two tokens pasted together, or one with a control character, are refused before anything is sent', async () => {
    for (const token of [`${T1}\n${T2}`, `${T1}\u0001`, `${T1} ${T2}`]) {
      seen.length = 0;
      const r = await cli('token', 'list', '--server', base, '-t', token);
      refusedUnshown(r);
      assert.equal(seen.length, 0);
    }
  });

  it('from ENCLAVE_TOKEN, and for the log commands too', async () => {
    seen.length = 0;
    const r = await run(['token', 'list', '--server', base], { env: { ENCLAVE_TOKEN: `${T1}\n${T2}` } });
    refusedUnshown(r);
    const proof = await cli('log', 'proof', '--url', base, '--index', '3', '-t', `${T1}\n${T2}`);
    refusedUnshown(proof);
    assert.equal(seen.length, 0);
  });

  it('a token read with its line ending (a file saved on Windows) still works', async () => {
    seen.length = 0;
    const r = await cli('token', 'list', '--server', base, '-t', `${T1}\r\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(seen[0]?.authorization, `Bearer ${T1}`);
  });

  it('a request fetch refuses to send does not quote its Authorization header', async () => {
    await assert.rejects(
      send(`${base}/v1/tokens`, { headers: { authorization: `Bearer ${T1}\n${T2}` } }, base, 'hint'),
      (err: Error) => !err.message.includes(T1.slice(4)) && !err.message.includes(T2.slice(4)),
    );
  });
});

describe('a configuration that is given must load', () => {
  it('a mistyped configuration stops the command with its error, naming the file', async () => {
    const file = join(dir, 'typo.yaml');
    writeFileSync(file, 'version: 1\nserver: { hots: 127.0.0.1, port: 18711 }\n');
    const r = await cli('token', 'list', '-c', file, '-t', T1);
    assert.equal(r.code, 1, r.stderr);
    const f = oneErrorLine(r);
    assert.equal(f.code, 'invalid_config');
    assert.ok(f.message.includes(file), f.message);
  });

  it('a configuration file that does not exist, given by --config or ENCLAVE_CONFIG, is reported as such', async () => {
    const missing = join(dir, 'nowhere', 'enclave.yaml');
    for (const r of [await cli('token', 'list', '-c', missing, '-t', T1), await run(['token', 'list', '-t', T1], { env: { ENCLAVE_CONFIG: missing } })]) {
      assert.equal(r.code, 1, r.stderr);
      const f = oneErrorLine(r);
      assert.equal(f.code, 'not_initialized');
      assert.ok(f.message.includes(missing), f.message);
    }
  });

  it('so must the enclave.yaml of the working directory, when there is one', async () => {
    const here = join(dir, 'here');
    mkdirSync(here);
    writeFileSync(join(here, 'enclave.yaml'), 'version: 1\nserver: { hots: 127.0.0.1, port: 18711 }\n');
    const cwd = process.cwd();
    process.chdir(here);
    try {
      const r = await cli('token', 'list', '-t', T1);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(oneErrorLine(r).code, 'invalid_config');
    } finally {
      process.chdir(cwd);
    }
  });
});

describe('a reader that stops early', () => {
  /** Runs the command with the reading end of its stdout closed before it writes. */
  async function closedStdout(args: string[]): Promise<RunResult> {
    const { child, done } = begin(args);
    child.stdout?.destroy();
    child.stdin?.end();
    return done;
  }

  it('ends the command quietly, without a stack trace', async () => {
    for (const args of [['--help'], ['token', 'list', '--json', '--server', base, '-t', T1]]) {
      const r = await closedStdout(args);
      assert.equal(r.stderr, '', args.join(' '));
      assert.equal(r.code, 0, args.join(' '));
    }
  });
});

describe('an output path that cannot be written', () => {
  function leftovers(where: string): string[] {
    return readdirSync(where).filter((name) => name.includes('.tmp-'));
  }

  it('log proof --out and log verify --save onto a directory: one line naming it, no temporary file left', async () => {
    const out = join(dir, 'outdir');
    mkdirSync(out);
    for (const args of [
      ['log', 'proof', '--url', base, '--index', '3', '--out', out],
      ['log', 'verify', '--url', base, '--vkey', log.vkey, '--save', out],
    ]) {
      const r = await cli(...args);
      assert.equal(r.code, 2, r.stderr);
      const f = oneErrorLine(r);
      assert.equal(f.code, 'invalid_argument');
      assert.match(f.message, /is a directory/);
      assert.ok(f.message.includes(out), f.message);
      assert.deepEqual(leftovers(dir), []);
    }
  });

  it('--out into a directory that does not exist, or under a file', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    for (const path of [join(dir, 'missing', 'entry.tlog-proof'), join(file, 'entry.tlog-proof')]) {
      const r = await cli('log', 'proof', '--url', base, '--index', '3', '--out', path);
      assert.equal(r.code, 2, r.stderr);
      const f = oneErrorLine(r);
      assert.equal(f.code, 'invalid_argument');
      assert.ok(f.message.includes(path), f.message);
    }
    assert.deepEqual(leftovers(dir), []);
  });

  it('witness init --dir onto a file, or under one', async () => {
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    for (const path of [file, join(file, 'w')]) {
      const r = await cli('witness', 'init', '--dir', path);
      assert.equal(r.code, 2, r.stderr);
      const f = oneErrorLine(r);
      assert.equal(f.code, 'invalid_argument');
      assert.ok(f.message.includes(path), f.message);
    }
  });
});
