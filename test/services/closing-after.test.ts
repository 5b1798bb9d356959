// Closing what a migration opened (services/migration/closing-after.ts): in reverse order, each once,
// whatever happened; a close that fails after the work succeeded is a warning and the result is kept;
// after a failure, the failure is what the caller sees.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closingAfter } from '../../src/services/migration/closing-after.ts';

function tracker() {
  const closed: string[] = [];
  const warnings: string[] = [];
  const closer = (name: string, fail = false) => async () => {
    closed.push(name);
    await Promise.resolve();
    if (fail) throw new Error(`${name} would not close`);
  };
  const warn = (err: unknown) => warnings.push((err as Error).message);
  return { closed, warnings, closer, warn };
}

test('a success keeps its result when a close fails afterwards, and every other resource is still closed', async () => {
  const t = tracker();
  const result = await closingAfter((opened) => {
    opened(t.closer('enclave'));
    opened(t.closer('state', true));
    opened(t.closer('source'));
    return Promise.resolve('certificate dc-1');
  }, t.warn);
  assert.equal(result, 'certificate dc-1');
  assert.deepEqual(t.closed, ['source', 'state', 'enclave']);
  assert.deepEqual(t.warnings, ['state would not close']);
});

test('a failure is what is thrown, not a close that failed after it, and what was opened is closed', async () => {
  const t = tracker();
  await assert.rejects(
    closingAfter((opened) => {
      opened(t.closer('enclave', true));
      opened(t.closer('state'));
      return Promise.reject(new Error('the source went away'));
    }, t.warn),
    /the source went away/,
  );
  assert.deepEqual(t.closed, ['state', 'enclave']);
  assert.deepEqual(t.warnings, []);
});
