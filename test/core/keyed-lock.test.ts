// One key's work runs one at a time, in arrival order, whatever it throws; other keys are not held up.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyedLock } from '../../src/core/keyed-lock.ts';

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('work for one key runs one at a time in arrival order; a failure releases the key', async () => {
  const lock = new KeyedLock();
  const events: string[] = [];
  const job = (name: string, fail = false) => async () => {
    events.push(`${name} start`);
    await tick();
    await tick();
    events.push(`${name} end`);
    if (fail) throw new Error(name);
    return name;
  };
  const results = await Promise.allSettled([lock.run('a', job('1', true)), lock.run('a', job('2')), lock.run('a', job('3'))]);
  assert.deepEqual(events, ['1 start', '1 end', '2 start', '2 end', '3 start', '3 end']);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'fulfilled', 'fulfilled']);
  assert.equal(lock.size, 0, 'no key is kept once its work is done');
});

test('other keys run while one key is held', async () => {
  const lock = new KeyedLock();
  let release = () => {};
  const held = lock.run('a', () => new Promise<void>((resolve) => (release = resolve)));
  assert.equal(await lock.run('b', () => Promise.resolve('b ran')), 'b ran');
  let second = false;
  const queued = lock.run('a', () => {
    second = true;
    return Promise.resolve();
  });
  await tick();
  assert.equal(second, false, 'the same key waits');
  release();
  await Promise.all([held, queued]);
  assert.equal(second, true);
  assert.equal(lock.size, 0);
});
