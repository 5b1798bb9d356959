// SIGHUP never ends a server (`enclave serve`, `enclave witness serve`): a service manager's "reload"
// sends it, and a server ended that way is sealed until the officers unseal it again. Without TLS it says
// there is nothing to reload and carries on; during start, while the stores open, it is taken too. (In the
// first moments, before and during the heap-limit restart, a SIGHUP can go unreported: docs/deployment.md.)
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { StaticLog } from '../core/tlog/static-log.ts';
import { begin, initializedEnclave, run, startListening, waitFor } from './helpers.ts';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const NOTHING = /^SIGHUP: nothing to reload \(it reloads the TLS certificate and key, and the configuration has no server\.tls\); the server carries on$/m;

describe('SIGHUP to a server without TLS', () => {
  const enclave = initializedEnclave();

  it('enclave serve says there is nothing to reload and keeps serving; SIGTERM still closes it', async () => {
    const server = await startListening(['serve', '--config', enclave.config, '--port', '0']);
    server.child.kill('SIGHUP');
    assert.ok(await waitFor(() => NOTHING.test(server.stderr()) || server.child.exitCode !== null || server.child.signalCode !== null), server.stderr());
    assert.equal(server.child.signalCode, null, 'SIGHUP ended the server');
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(await server.stop(), 0, server.stderr());
  });

  it('enclave serve takes a SIGHUP while it opens its stores (after the heap-limit restart)', async () => {
    // A "PostgreSQL server" that never answers: the start stays in the opening of the control store.
    const sockets: Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    const stalled = join(enclave.dir, 'a', 'stalled.yaml');
    writeFileSync(stalled, readFileSync(enclave.config, 'utf8').replace('storage: sqlite:control.db', `storage: postgres://127.0.0.1:${port}/test`));
    try {
      const started = begin(['serve', '--config', stalled, '--port', '0']);
      assert.ok(await waitFor(() => sockets.length > 0, 30_000), 'serve never opened the control store');
      started.child.kill('SIGHUP');
      let stderr = '';
      started.child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      await waitFor(() => NOTHING.test(stderr) || started.child.exitCode !== null || started.child.signalCode !== null);
      await pause(200);
      assert.equal(started.child.signalCode, null, 'SIGHUP ended the server while it started');
      assert.match(stderr, NOTHING);
      started.child.kill('SIGKILL');
      await started.done;
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it('enclave witness serve says there is nothing to reload and keeps serving', async () => {
    const w = join(enclave.dir, 'w');
    const init = await run(['witness', 'init', '--dir', w, '--json']);
    assert.equal(init.code, 0, init.stderr);
    const log = new StaticLog();
    const served = await startListening(['witness', 'serve', '--dir', w, '--log', `${log.origin}=${log.vkey}`, '--port', '0', '--log-level', 'silent']);
    served.child.kill('SIGHUP');
    const line = /^SIGHUP: nothing to reload \(it reloads the TLS certificate and key, and no --tls-cert was given\); the server carries on$/m;
    assert.ok(await waitFor(() => line.test(served.stderr()) || served.child.signalCode !== null), served.stderr());
    assert.equal(served.child.signalCode, null, 'SIGHUP ended the witness');
    assert.equal((await fetch(`${served.url}/add-checkpoint`, { method: 'POST', body: 'not a checkpoint' })).status, 400, 'the witness no longer answers');
    assert.equal(await served.stop(), 0, served.stderr());
  });
});
