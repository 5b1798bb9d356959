// The heap flags `enclave serve` adds: those of its configuration, except what the operator already set;
// and the one `enclave migrate` adds, which must leave the migration thread the heap it asks for.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { heapFlags, MIGRATION_MAIN_FLAGS, missingEnv, missingHeapFlags, SERVER_ENV, serverEnv } from '../../src/cli/heap-limits.ts';
import { HEAP_LIMITS } from '../../src/services/migration/migration-thread.ts';

void describe('heap limits', () => {
  const wanted = heapFlags({ maxOldSpaceMb: 256, maxSemiSpaceMb: 8 });

  void it('adds both flags to a process started without them', () => {
    assert.deepEqual(wanted, ['--max-old-space-size=256', '--max-semi-space-size=8']);
    assert.deepEqual(missingHeapFlags(wanted, [], ''), wanted);
    assert.deepEqual(missingHeapFlags(wanted, ['--enable-source-maps'], '--trace-warnings'), wanted);
  });

  void it('keeps what the operator set, on the command line or in NODE_OPTIONS, in either spelling', () => {
    assert.deepEqual(missingHeapFlags(wanted, ['--max-old-space-size=1024'], ''), ['--max-semi-space-size=8']);
    assert.deepEqual(missingHeapFlags(wanted, [], '--max_semi_space_size=32 --trace-warnings'), ['--max-old-space-size=256']);
    assert.deepEqual(missingHeapFlags(wanted, ['--max-semi-space-size=4'], '--max-old-space-size=512'), []);
  });

  void it('adds the server\'s allocator setting only where the environment does not set it', () => {
    assert.deepEqual(SERVER_ENV, { MALLOC_ARENA_MAX: '2' });
    assert.deepEqual(missingEnv(SERVER_ENV, { PATH: '/bin' }), { MALLOC_ARENA_MAX: '2' });
    assert.deepEqual(missingEnv(SERVER_ENV, { MALLOC_ARENA_MAX: '8' }), {});
    assert.deepEqual(missingEnv(SERVER_ENV, { MALLOC_ARENA_MAX: '' }), {}, 'set, even empty, is the operator\'s choice');
    // Only where glibc runs (this machine's Linux is Debian's); elsewhere the variable would do nothing.
    if (process.platform === 'linux') assert.deepEqual(serverEnv(), SERVER_ENV);
    if (process.platform === 'darwin' || process.platform === 'win32') assert.deepEqual(serverEnv(), {});
  });

  void it('the migration\'s flag gives the migration thread the heap its resource limits ask for, no smaller and no larger', () => {
    // The heap limit V8 gives a worker started with HEAP_LIMITS, in a process started with the given flags.
    const workerLimit = (flags: readonly string[]) =>
      Number(
        execFileSync(
          process.execPath,
          [
            ...flags,
            '-e',
            `const { Worker } = require('node:worker_threads');
             const w = new Worker("require('node:worker_threads').parentPort.postMessage(require('node:v8').getHeapStatistics().heap_size_limit)", { eval: true, resourceLimits: ${JSON.stringify(HEAP_LIMITS)} });
             w.once('message', (n) => { console.log(n); void w.terminate(); });`,
          ],
          { encoding: 'utf8' },
        ),
      );
    const own = workerLimit([]);
    assert.ok(own > HEAP_LIMITS.maxOldGenerationSizeMb * 2 ** 20, String(own));
    assert.equal(workerLimit(MIGRATION_MAIN_FLAGS), own);
    // The check can fail: a flag of another size changes the worker's heap.
    assert.notEqual(workerLimit(['--max-semi-space-size=16']), own);
  });
});
