// A policy engine that trapped fails closed over HTTP: decisions cached while it was healthy are no
// longer served (every read and write is 503 policy_engine_failed), and sealing, the emergency response,
// still works for the officers whose role lists enclave.seal, never for the parent company.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { errorCode, json, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';

/** Breaks the engine as a trap in its WebAssembly module does (see test/services/policy-engine.test.ts). */
function trap(h: HttpFixture): void {
  const guard = (h.enclave.policies as unknown as { guard(call: () => unknown): unknown }).guard.bind(h.enclave.policies);
  assert.throws(() =>
    guard(() => {
      const { RuntimeError } = Reflect.get(globalThis, 'WebAssembly') as { RuntimeError: new (message: string) => Error };
      throw new RuntimeError('memory access out of bounds');
    }),
  );
}

const record = (id: string) => ({ id, data: { user_id: 'ann', username: 'ann', email: `${id}@example.test` } });

describe('a policy engine that trapped', () => {
  let h: HttpFixture;
  before(async () => {
    h = await makeHttpFixture();
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' })).statusCode, 201);
    // Decided while healthy, so cached: a write, a read with protected fields, a parent's refused seal.
    assert.equal((await h.call('service', 'POST', '/v1/collections/users/records', record('ann-1'))).statusCode, 201);
    const read = await h.call('service', 'GET', '/v1/collections/users/records/ann-1');
    assert.equal(read.statusCode, 200);
    assert.ok(read.body.includes('ann-1@example.test'));
    assert.equal(errorCode(await h.call('parent', 'POST', '/v1/sys/seal')), 'forbidden');
    trap(h);
  });
  after(async () => h.close());

  it('serves no decision cached before the trap: reads and writes are 503 policy_engine_failed and nothing leaves or changes', async () => {
    const read = await h.call('service', 'GET', '/v1/collections/users/records/ann-1');
    assert.equal(read.statusCode, 503);
    assert.equal(errorCode(read), 'policy_engine_failed');
    assert.ok(!read.body.includes('ann-1@example.test'));
    const write = await h.call('service', 'POST', '/v1/collections/users/records', record('ann-2'));
    assert.equal(write.statusCode, 503);
    assert.equal(errorCode(write), 'policy_engine_failed');
    const parentRead = await h.call('parent', 'GET', '/v1/collections/users/records/ann-1');
    assert.equal(errorCode(parentRead), 'policy_engine_failed');
    assert.equal(await h.enclave.router.findRecord('users', 'ann-2'), undefined, 'the refused write stored nothing');
  });

  it('still lets an officer seal, and never the parent company nor a role without enclave.seal', async () => {
    for (const who of ['parent', 'service', 'approver'] as const) {
      const refused = await h.call(who, 'POST', '/v1/sys/seal');
      assert.ok(refused.statusCode === 403 || refused.statusCode === 503, `${who}: ${refused.statusCode}`);
      assert.equal(h.enclave.keyring.sealed, false, `${who} did not seal`);
    }
    const sealed = await h.call('officer', 'POST', '/v1/sys/seal');
    assert.equal(sealed.statusCode, 200, sealed.body);
    assert.equal(json(sealed)['sealed'], true);
    assert.equal(h.enclave.keyring.sealed, true);
  });
});
