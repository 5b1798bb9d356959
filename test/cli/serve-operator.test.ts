// What `enclave serve` tells its operator, and what it does when no one reads it: it warns when it listens
// on every interface, and it keeps serving when the reader of its stdout goes away (EPIPE).
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { begin, initializedEnclave, startListening, type LongRunning } from './helpers.ts';

const EVERY_INTERFACE = /every network interface \(0\.0\.0\.0\): the API is reachable from other machines/;

const enclave = initializedEnclave();

/** Stops the server and waits for its last stderr line, so that all it wrote there before has arrived. */
async function stopped(server: LongRunning): Promise<void> {
  assert.equal(await server.stop(), 0);
  for (let i = 0; i < 50 && !server.stderr().includes('closing the server'); i++) await new Promise((r) => setTimeout(r, 100));
}

/** A port nothing listens on now. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('enclave serve on every interface', () => {
  it('warns once on stderr that the API is reachable from the network', async () => {
    const server = await startListening(['serve', '--config', enclave.config, '--host', '0.0.0.0', '--port', '0']);
    await stopped(server);
    assert.equal(server.stderr().split('\n').filter((l) => EVERY_INTERFACE.test(l)).length, 1, server.stderr());
    assert.doesNotMatch(server.stdout(), EVERY_INTERFACE);
  });

  it('says nothing of the kind on the loopback address', async () => {
    const server = await startListening(['serve', '--config', enclave.config, '--host', '127.0.0.1', '--port', '0']);
    await stopped(server);
    assert.doesNotMatch(server.stderr(), /every network interface/);
  });
});

describe('enclave serve when the reader of its stdout goes away', () => {
  it('keeps serving, says so on stderr, and stops on SIGTERM as usual', async () => {
    const port = await freePort();
    const { child, done } = begin(['serve', '--config', enclave.config, '--port', String(port)]);
    child.stdin?.end();
    // Closed before the server writes a line: every write to its stdout fails with EPIPE (`| head -0`).
    child.stdout?.destroy();
    let exited = false;
    void done.then(() => (exited = true));
    // The status of /healthz, its body read (an unread one holds the connection), or undefined while it does not answer.
    const health = () => fetch(`http://127.0.0.1:${port}/healthz`).then(async (res) => (await res.text(), res.status), () => undefined);
    let status: number | undefined;
    for (let i = 0; i < 300 && !exited && status === undefined; i++) {
      status = await health();
      if (status === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    if (exited) assert.fail(`the server ended when its stdout was closed: ${JSON.stringify(await done)}`);
    assert.equal(status, 200);
    // Still serving a while later, the request log lines it could not write notwithstanding.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await health(), 200);
    child.kill('SIGTERM');
    const result = await done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /stdout is closed \(EPIPE\).*still serving until SIGINT or SIGTERM/);
    assert.doesNotMatch(result.stderr, /\n\s+at |Error:/);
  });
});
