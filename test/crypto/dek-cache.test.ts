// The data-key cache: a hit only for the exact wrapped key a key was unwrapped from, least recently
// used eviction with its slots reused, and nothing left after delete or clear.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { open, seal } from '../../src/crypto/aead.ts';
import { DekCache } from '../../src/crypto/dek-cache.ts';

const aad = Buffer.from('aad');

void describe('DekCache', () => {
  void it('returns a key that opens what the raw key sealed, only for the wrapped key it came from', () => {
    const cache = new DekCache(4);
    const raw = randomBytes(32);
    const wrapped = randomBytes(61);
    cache.put('us\0s', wrapped, raw);
    const key = cache.get('us\0s', wrapped);
    assert.ok(key);
    assert.equal(open(key, seal(key, Buffer.from('hello'), aad), aad).toString(), 'hello');
    assert.deepEqual(key.export(), raw);
    const other = Buffer.from(wrapped);
    other[60] = (other[60] ?? 0) ^ 1;
    assert.equal(cache.get('us\0s', other), undefined, 'another wrapped key of the same subject is a miss');
    assert.equal(cache.get('us\0s', wrapped.subarray(0, 60)), undefined, 'a prefix of it too');
    assert.equal(cache.get('eu\0s', wrapped), undefined);
  });

  void it('property: behaves like a least-recently-used map of (wrapped, key) pairs', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('put' as const), key: fc.integer({ min: 0, max: 5 }), seed: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('get' as const), key: fc.integer({ min: 0, max: 5 }) }),
      fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 5 }) }),
      fc.record({ kind: fc.constant('clear' as const) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(op, { maxLength: 50 }), (capacity, ops) => {
        const cache = new DekCache(capacity);
        let model: { key: string; seed: number }[] = []; // least recently used first
        const wrappedOf = (seed: number) => Buffer.alloc(61, seed);
        const rawOf = (seed: number) => Buffer.alloc(32, 255 - seed);
        for (const o of ops) {
          if (o.kind === 'clear') {
            cache.clear();
            model = [];
            continue;
          }
          const key = String(o.key);
          const hit = model.find((m) => m.key === key);
          if (o.kind === 'put') {
            cache.put(key, wrappedOf(o.seed), rawOf(o.seed));
            model = [...model.filter((m) => m.key !== key), { key, seed: o.seed }];
            if (model.length > capacity) model.shift();
          } else if (o.kind === 'get') {
            // Asked with the wrapped key the model holds (or any, when it holds none).
            const got = cache.get(key, wrappedOf(hit?.seed ?? 0));
            assert.deepEqual(got?.export(), hit ? rawOf(hit.seed) : undefined);
            if (hit) model = [...model.filter((m) => m.key !== key), hit];
          } else {
            cache.delete(key);
            model = model.filter((m) => m.key !== key);
          }
          assert.equal(cache.size, model.length);
          // Nothing of a deleted, evicted or cleared key is left: exactly the held slots hold bytes.
          const bytes = (cache as unknown as { bytes: Buffer }).bytes;
          let written = 0;
          for (let at = 0; at < bytes.length; at += 96) if (bytes.subarray(at, at + 96).some((b) => b !== 0)) written++;
          assert.equal(written, model.length);
        }
      }),
    );
  });
});
