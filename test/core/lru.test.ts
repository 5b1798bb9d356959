// The bounded LRU map behind the key and site caches: it never grows past its capacity and evicts the
// least recently used entry (a hit counts as a use).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { Lru } from '../../src/core/lru.ts';

void describe('Lru', () => {
  void it('evicts the least recently used entry; get and set both count as use', () => {
    const l = new Lru<string, number>(2);
    l.set('a', 1);
    l.set('b', 2);
    assert.equal(l.get('a'), 1);
    l.set('c', 3); // evicts b, the least recently used
    assert.equal(l.get('b'), undefined);
    assert.deepEqual([l.get('a'), l.get('c'), l.size], [1, 3, 2]);
    l.set('a', 10); // overwrite refreshes a
    l.set('d', 4); // evicts c
    assert.deepEqual([l.get('c'), l.get('a'), l.get('d')], [undefined, 10, 4]);
  });

  void it('delete and clear remove entries; capacity is at least 1', () => {
    const l = new Lru<string, number>(0);
    l.set('a', 1);
    l.set('b', 2);
    assert.deepEqual([l.size, l.get('a'), l.get('b')], [1, undefined, 2]);
    l.delete('b');
    assert.equal(l.size, 0);
    l.set('c', 3);
    l.clear();
    assert.deepEqual([l.size, l.get('c')], [0, undefined]);
  });

  void it('property: behaves like a reference model of recency order', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), key: fc.integer({ min: 0, max: 6 }), value: fc.integer() }),
      fc.record({ kind: fc.constant('get' as const), key: fc.integer({ min: 0, max: 6 }) }),
      fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 6 }) }),
      fc.record({ kind: fc.constant('shift' as const) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(op, { maxLength: 60 }), (capacity, ops) => {
        const lru = new Lru<number, number>(capacity);
        let model: [number, number][] = []; // oldest first
        for (const o of ops) {
          if (o.kind === 'set') {
            model = model.filter(([k]) => k !== o.key);
            model.push([o.key, o.value]);
            if (model.length > capacity) model.shift();
            lru.set(o.key, o.value);
          } else if (o.kind === 'get') {
            const hit = model.find(([k]) => k === o.key);
            if (hit) model = [...model.filter(([k]) => k !== o.key), hit];
            assert.equal(lru.get(o.key), hit?.[1]);
          } else if (o.kind === 'shift') {
            assert.deepEqual(lru.shift(), model.shift(), 'shift removes the least recently used entry');
          } else {
            model = model.filter(([k]) => k !== o.key);
            lru.delete(o.key);
          }
          assert.equal(lru.size, model.length);
          assert.equal(lru.full, model.length >= capacity);
          assert.ok(lru.size <= capacity);
        }
      }),
    );
  });

  void it('a cache far below its capacity does not hold on to memory as it is used (the tables its Map outgrew)', () => {
    // Unoptimized Map builtins (code V8 has not optimized, or has given up on) shrink and regrow the
    // table as entries are deleted and re-set: the case where an iterator left behind kept every table.
    const script = `
      import { Lru } from ${JSON.stringify(new URL('../../src/core/lru.ts', import.meta.url).href)};
      const names = ['users', 'messages', 'videos'];
      const l = new Lru(10000);
      globalThis.gc();
      const before = process.memoryUsage().heapUsed;
      for (let i = 0; i < 300000; i++) {
        const key = names[i % 3];
        if (!l.get(key)) l.set(key, { decision: i });
      }
      globalThis.gc();
      process.stdout.write(String(process.memoryUsage().heapUsed - before));`;
    const out = spawnSync(process.execPath, ['--expose-gc', '--no-opt', '--no-maglev', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    const grown = Number(out.stdout);
    // Unbounded, these 300,000 uses kept about 20 MB; bounded, under one.
    assert.ok(grown < 4 * 2 ** 20, `the heap grew by ${(grown / 2 ** 20).toFixed(1)} MB`);
  });
});
