// The heap flags `enclave serve` adds: those of its configuration, except what the operator already set.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { heapFlags, missingHeapFlags } from '../../src/cli/heap-limits.ts';

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
});
