// An unseal opens the keyring last: after the log holds its keys and its enclave.unsealed entry is
// durable. A read in the window before was decrypted and served while the log, without its subject key,
// recorded it as a decision taken while sealed, naming no subject (invariant 4: every access to protected
// data is in the log, linkable to its subject, before the data leaves).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hold } from '../helpers/hold.ts';
import { errorCode, json, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';

describe('while the enclave is being unsealed', () => {
  let h: HttpFixture;
  before(async () => {
    h = await makeHttpFixture();
  });
  after(async () => h.close());

  it('a read is refused as sealed until the log can name its subject, then served', async () => {
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'uk-ann', country: 'US' })).statusCode, 201);
    const created = await h.call('service', 'POST', '/v1/collections/users/records', { id: 'uk-ann-u', data: { user_id: 'uk-ann', username: 'ann', email: 'ann@x.test' } });
    assert.equal(created.statusCode, 201, created.body);
    h.enclave.seal.seal();
    const held = hold(h.enclave.log, 'unsealed', () => true, { once: true });
    try {
      // The fixture's threshold is two.
      await h.enclave.seal.submit(h.shares[0] ?? '');
      const unsealing = h.enclave.seal.submit(h.shares[1] ?? '');
      await held.reached; // the shares are combined and checked; the log is taking its keys
      const during = await h.call('service', 'GET', '/v1/collections/users/records/uk-ann-u');
      assert.equal(during.statusCode, 503, during.body);
      assert.equal(errorCode(during), 'sealed');
      assert.doesNotMatch(during.body, /ann@x\.test/);
      held.release();
      await unsealing;
    } finally {
      held.release();
      held.restore();
    }
    const afterwards = await h.call('service', 'GET', '/v1/collections/users/records/uk-ann-u');
    assert.equal(afterwards.statusCode, 200, afterwards.body);
    assert.equal(json<{ data: { email: string } }>(afterwards).data.email, 'ann@x.test');
  });

  it('a share entered meanwhile is not left as progress once the enclave is unsealed', async () => {
    h.enclave.seal.seal();
    const held = hold(h.enclave.log, 'unsealed', () => true, { once: true });
    try {
      await h.enclave.seal.submit(h.shares[0] ?? '');
      const unsealing = h.enclave.seal.submit(h.shares[1] ?? '');
      await held.reached;
      await h.enclave.seal.submit(h.shares[2] ?? '');
      held.release();
      await unsealing;
    } finally {
      held.release();
      held.restore();
    }
    assert.equal(h.enclave.keyring.sealed, false);
    assert.deepEqual([h.enclave.seal.status().progress, h.enclave.seal.status().entered], [0, []]);
  });
});
