// A readers-writer lock per key: exclusive work runs alone in arrival order, shared work runs together,
// neither overtakes the other, failures release, other keys are never held up.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyedGate } from '../../src/core/keyed-gate.ts';
import { recorder, tick } from '../helpers/job-recorder.ts';

test('exclusive work for one key runs one at a time in arrival order; a failure releases the key', async () => {
  const gate = new KeyedGate();
  const { events, job } = recorder();
  const results = await Promise.allSettled([gate.exclusive(['a'], job('1', true)), gate.exclusive(['a'], job('2')), gate.exclusive(['a'], job('3'))]);
  assert.deepEqual(events, ['1 start', '1 end', '2 start', '2 end', '3 start', '3 end']);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'fulfilled', 'fulfilled']);
  assert.equal(gate.size, 0, 'no key is kept once its work is done');
});

test('shared work runs together; exclusive work waits for the shared before it, and shared work after it waits for it', async () => {
  const gate = new KeyedGate();
  const { events, job } = recorder();
  await Promise.all([gate.shared(['a'], job('s1')), gate.shared(['a'], job('s2')), gate.exclusive(['a'], job('x')), gate.shared(['a'], job('s3'))]);
  assert.deepEqual(events, ['s1 start', 's2 start', 's1 end', 's2 end', 'x start', 'x end', 's3 start', 's3 end']);
  assert.equal(gate.size, 0);
});

test('other keys run while one key is held; several keys are taken without deadlock', async () => {
  const gate = new KeyedGate();
  let release = () => {};
  const held = gate.exclusive(['a'], () => new Promise<void>((resolve) => (release = resolve)));
  assert.equal(await gate.shared(['b'], () => Promise.resolve('b ran')), 'b ran');
  let second = false;
  const queued = gate.shared(['a'], () => {
    second = true;
    return Promise.resolve();
  });
  await tick();
  assert.equal(second, false, 'the same key waits');
  release();
  await Promise.all([held, queued]);
  assert.equal(second, true);
  // Opposite orders of the same keys, exclusive and shared: sorted, so both finish.
  const { events, job } = recorder();
  await Promise.all([gate.exclusive(['c', 'd'], job('cd')), gate.exclusive(['d', 'c'], job('dc')), gate.shared(['d', 'c'], job('s'))]);
  assert.deepEqual(events, ['cd start', 'cd end', 'dc start', 'dc end', 's start', 's end']);
  assert.equal(gate.size, 0);
});
