// The heap flags `enclave serve` adds: those of its configuration, except what the operator already set;
// and those `enclave migrate` adds, which bound the heap the migration runs in.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { heapFlags, MIGRATION_MAIN_FLAGS, missingEnv, missingHeapFlags, SERVER_ENV, serverEnv } from '../../src/cli/heap-limits.ts';

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

  void it('the migration\'s flags bound its heap to a few hundred MB, where V8 would size it from the machine', () => {
    const limit = (flags: readonly string[]) => Number(execFileSync(process.execPath, [...flags, '-p', "require('node:v8').getHeapStatistics().heap_size_limit"], { encoding: 'utf8', env: {} }));
    assert.deepEqual(MIGRATION_MAIN_FLAGS, ['--max-old-space-size=224', '--max-semi-space-size=4']);
    const bounded = limit(MIGRATION_MAIN_FLAGS);
    // The old generation's 224 MB and a young generation of three 4 MB spaces (two semi-spaces, large objects).
    assert.ok(bounded >= 224 * 2 ** 20 && bounded <= 240 * 2 ** 20, String(bounded));
    assert.ok(limit([]) > bounded, 'without the flags V8 allows more');
  });
});
