// The leaf hashes the integrator takes from memory instead of reading the entries back: it must hand out
// exactly the hashes added for those indexes, or nothing (then the store is read).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LeafRun } from '../../../src/core/tlog/leaf-run.ts';

/** Hashes whose bytes say their index: hash(i) is 32 bytes of i's low byte, then i in the first four. */
function hash(i: number): Uint8Array {
  const h = new Uint8Array(32).fill(i & 0xff);
  new DataView(h.buffer).setUint32(0, i);
  return h;
}
function packed(first: number, count: number): Uint8Array {
  const out = new Uint8Array(count * 32);
  for (let k = 0; k < count; k++) out.set(hash(first + k), k * 32);
  return out;
}
const indexes = (hs: readonly Uint8Array[] | undefined) => hs?.map((h) => new DataView(h.buffer, h.byteOffset).getUint32(0));

void describe('LeafRun', () => {
  void it('hands out the hashes of a contiguous run across blocks, and forgets what was integrated', () => {
    const run = new LeafRun(100);
    run.add(10, packed(10, 3));
    run.add(13, packed(13, 2));
    assert.deepEqual(indexes(run.take(10, 15)), [10, 11, 12, 13, 14]);
    assert.deepEqual(indexes(run.take(12, 14)), [12, 13]);
    assert.equal(run.take(9, 12), undefined, 'an index before the run');
    assert.equal(run.take(14, 16), undefined, 'an index after the run');
    run.drop(12);
    assert.deepEqual(indexes(run.take(12, 15)), [12, 13, 14]);
    assert.equal(run.take(11, 13), undefined);
    const taken = run.take(12, 15);
    run.drop(15);
    assert.equal(run.size, 0);
    run.add(15, packed(15, 40));
    assert.deepEqual(indexes(taken), [12, 13, 14], 'what was taken is a copy: later adds and drops leave it as it was');
    run.drop(55);
    run.add(15, packed(15, 1));
    assert.deepEqual(indexes(run.take(15, 16)), [15]);
  });

  void it('starts over at a gap (another process appended between) and when it would hold more than its maximum', () => {
    const run = new LeafRun(4);
    run.add(0, packed(0, 2));
    run.add(5, packed(5, 2));
    assert.equal(run.take(0, 2), undefined);
    assert.deepEqual(indexes(run.take(5, 7)), [5, 6]);
    run.add(7, packed(7, 3));
    assert.equal(run.size, 3, 'five would exceed four: only the newest block is kept');
    assert.equal(run.take(5, 7), undefined);
    assert.deepEqual(indexes(run.take(7, 10)), [7, 8, 9]);
  });

  void it('ignores what is not a whole number of hashes', () => {
    const run = new LeafRun(10);
    run.add(0, new Uint8Array(33));
    run.add(0, new Uint8Array(0));
    run.add(-1, packed(0, 1));
    assert.equal(run.size, 0);
  });

  void it('never hands out a hash other than the one added for its index (random adds, gaps, drops)', () => {
    type Op = { kind: 'add'; gap: number; count: number } | { kind: 'drop'; back: number } | { kind: 'take'; from: number; len: number };
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), gap: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 5 })), count: fc.integer({ min: 1, max: 6 }) }),
      fc.record({ kind: fc.constant('drop' as const), back: fc.integer({ min: 0, max: 10 }) }),
      fc.record({ kind: fc.constant('take' as const), from: fc.integer({ min: 0, max: 60 }), len: fc.integer({ min: 1, max: 12 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 20 }), fc.array(op, { maxLength: 40 }), (max, ops: Op[]) => {
        const run = new LeafRun(max);
        let next = 0;
        for (const o of ops) {
          if (o.kind === 'add') {
            next += o.gap;
            run.add(next, packed(next, o.count));
            next += o.count;
          } else if (o.kind === 'drop') run.drop(Math.max(0, next - o.back));
          else {
            const got = run.take(o.from, o.from + o.len);
            if (got !== undefined) assert.deepEqual(indexes(got), Array.from({ length: o.len }, (_, k) => o.from + k));
          }
          assert.ok(run.size <= max);
        }
        // What was added last is there until dropped, unless it alone was more than the run may hold.
        const last = ops.at(-1);
        if (last?.kind === 'add') assert.equal(run.take(next - last.count, next) !== undefined, last.count <= max);
      }),
    );
  });
});
