// The installed entry point (bin/enclave.js, what `npx enclave` and `npm start` run) turns on Node's
// compile cache before any TypeScript source loads, so later starts (and the worker threads, which get
// it through the environment) skip type stripping; NODE_DISABLE_COMPILE_CACHE turns it off.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pkg from '../../package.json' with { type: 'json' };
import { COMPILE_CACHE_DIR } from '../../bin/compile-cache.js';
import { REPO } from './helpers.ts';

const ENTRY = join(REPO, 'bin', 'enclave.js');
const dirs: string[] = [];

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'enclave-compile-cache-'));
  dirs.push(dir);
  return dir;
}

/** Every cached file under `dir` (Node keeps one subdirectory per Node version and V8 flags). */
function cached(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
}

async function version(env: NodeJS.ProcessEnv): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [ENTRY, '--version'], { cwd: REPO, env });
  return stdout.trim();
}

function envWith(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['NODE_COMPILE_CACHE'];
  delete env['NODE_DISABLE_COMPILE_CACHE'];
  return { ...env, ...extra };
}

describe('bin/enclave.js', () => {
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('fills the compile cache on the first start and answers the same from it on the next', async () => {
    const dir = scratch();
    assert.equal(await version(envWith({ NODE_COMPILE_CACHE: dir })), pkg.version);
    const first = cached(dir);
    // The CLI's sources and what they import, one entry each: far more than the entry point itself.
    assert.ok(first.length > 20, `expected the loaded sources in the cache, found ${first.length} files`);
    assert.equal(await version(envWith({ NODE_COMPILE_CACHE: dir })), pkg.version);
    assert.deepEqual(cached(dir).sort(), first.sort());
  });

  it('enables the cache in the installation by default, and in the worker threads it starts', async () => {
    // A worker thread started after enableCompileCache() reports the cache directory it loads from.
    const script = `
      const { enableCompileCache } = await import(${JSON.stringify(new URL('../../bin/compile-cache.js', import.meta.url).href)});
      enableCompileCache();
      const { Worker } = await import('node:worker_threads');
      const w = new Worker("Promise.all([import('node:module'), import('node:worker_threads')]).then(([m, w]) => w.parentPort.postMessage(String(m.getCompileCacheDir())))", { eval: true });
      w.on('message', (dir) => { console.log(dir); void w.terminate(); });`;
    const worker = async (env: NodeJS.ProcessEnv) =>
      (await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, env })).stdout.trim();
    // Node keeps a subdirectory per Node version and V8 flags.
    const dir = await worker(envWith({}));
    assert.ok(dir.startsWith(`${COMPILE_CACHE_DIR}${sep}`), `worker thread's compile cache: ${dir}`);
    assert.equal(await worker(envWith({ NODE_DISABLE_COMPILE_CACHE: '1' })), 'undefined');
    // Enabled from the environment already: the worker uses that directory, not one nested inside it.
    const own = scratch();
    assert.equal(dirname(await worker(envWith({ NODE_COMPILE_CACHE: own }))), own);
  });

  it('leaves the cache alone when NODE_DISABLE_COMPILE_CACHE is set', async () => {
    const dir = scratch();
    assert.equal(await version(envWith({ NODE_COMPILE_CACHE: dir, NODE_DISABLE_COMPILE_CACHE: '1' })), pkg.version);
    assert.deepEqual(cached(dir), []);
  });
});

describe('what the CLI loads to start', () => {
  it('--help loads neither the policy engine (Cedar, WebAssembly) nor the gatekeeper services', async () => {
    // A module hook in the child that lists every module loaded, printed at exit.
    const hook = `import { registerHooks } from 'node:module'; const seen = []; registerHooks({ load(url, ctx, next) { seen.push(url); return next(url, ctx); } }); process.on('exit', () => process.stderr.write(JSON.stringify(seen)));`;
    const { stderr } = await promisify(execFile)(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(hook)}`, ENTRY, '--help'], { cwd: REPO, env: { ...process.env, NODE_DISABLE_COMPILE_CACHE: '1' } });
    const loaded = JSON.parse(stderr.slice(stderr.indexOf('['))) as string[];
    assert.ok(loaded.some((u) => u.endsWith('/src/cli/program.ts')), 'the hook saw the CLI load');
    for (const heavy of ['@cedar-policy', '/src/services/policy-engine.ts', '/src/services/access-service.ts', '/src/services/change-service.ts', '/src/services/token-service.ts']) {
      assert.ok(!loaded.some((u) => u.includes(heavy)), `${heavy} was loaded for --help`);
    }
  });
});
