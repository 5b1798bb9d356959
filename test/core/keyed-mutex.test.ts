// A mutex per key taking many keys at once (the vault's record-id claims): work on overlapping keys runs
// one at a time in arrival order, work on disjoint keys runs together, keys in any order never wait in a
// cycle, a key given twice is one key, failures release, and nothing is kept once the work is done.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { KeyedMutex } from '../../src/core/keyed-mutex.ts';
import { recorder, tick } from '../helpers/job-recorder.ts';

test('work on overlapping keys runs one at a time in arrival order; a failure releases its keys', async () => {
  const mutex = new KeyedMutex();
  const { events, job } = recorder();
  const results = await Promise.allSettled([mutex.run(['a', 'b'], job('1', true)), mutex.run(['b', 'c'], job('2')), mutex.run(['c', 'a'], job('3'))]);
  assert.deepEqual(events, ['1 start', '1 end', '2 start', '2 end', '3 start', '3 end']);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'fulfilled', 'fulfilled']);
  assert.equal(mutex.size, 0, 'no key is kept once its work is done');
});

test('work on disjoint keys runs together, and a key given twice is taken once', async () => {
  const mutex = new KeyedMutex();
  const { events, job } = recorder();
  await Promise.all([mutex.run(['a', 'a', 'b'], job('1')), mutex.run(['c'], job('2'))]);
  assert.deepEqual(events, ['1 start', '2 start', '1 end', '2 end']);
  assert.equal(mutex.size, 0);
});

test('a holder waits for every earlier holder of any of its keys, and only for those', async () => {
  const mutex = new KeyedMutex();
  const { events, job } = recorder();
  // 3 shares a key with 1 and with 2; 4 shares none with anyone.
  await Promise.all([mutex.run(['a'], job('1')), mutex.run(['b'], job('2')), mutex.run(['b', 'a'], job('3')), mutex.run(['d'], job('4'))]);
  assert.ok(events.indexOf('3 start') > events.indexOf('1 end') && events.indexOf('3 start') > events.indexOf('2 end'), events.join(', '));
  assert.ok(events.indexOf('4 start') < events.indexOf('1 end'), events.join(', '));
});

test('any mix of holders and key orders ends (no cycle), never runs two holders of one key at once, and keeps nothing', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.record({ keys: fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { minLength: 1, maxLength: 4 }), fail: fc.boolean() }), { minLength: 1, maxLength: 8 }), async (holders) => {
      const mutex = new KeyedMutex();
      const running = new Set<string>();
      let order = 0;
      const started: number[] = [];
      const outcomes = await Promise.allSettled(
        holders.map((h, i) =>
          mutex.run(h.keys, async () => {
            for (const k of new Set(h.keys)) {
              assert.ok(!running.has(k), `key ${k} held twice at once`);
              running.add(k);
            }
            started[i] = order++;
            await tick();
            for (const k of new Set(h.keys)) running.delete(k);
            if (h.fail) throw new Error('failed');
          }),
        ),
      );
      assert.deepEqual(outcomes.map((o) => o.status), holders.map((h) => (h.fail ? 'rejected' : 'fulfilled')));
      // Holders sharing a key start in arrival order.
      for (let i = 0; i < holders.length; i++) {
        for (let j = i + 1; j < holders.length; j++) {
          if (holders[i]?.keys.some((k) => holders[j]?.keys.includes(k))) assert.ok((started[i] ?? 0) < (started[j] ?? 0));
        }
      }
      assert.equal(mutex.size, 0);
    }),
  );
});
