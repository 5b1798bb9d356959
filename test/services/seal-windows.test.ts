// Reads and unseals around a seal. Invariant 4: every access to protected data is in the log, linkable
// to its subject, before the data leaves.
// - An unseal opens the keyring last: after the log holds its keys and its enclave.unsealed entry is
//   durable. A read in the window before was decrypted and served while the log, without its subject
//   key, recorded it as a decision taken while sealed, naming no subject.
// - A read decrypted before a seal that came while it waited for its entry was logged the same way and
//   served; it now fails (503 sealed) and nothing unlinkable is logged.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hold } from '../helpers/hold.ts';
import { errorCode, json, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';
import { loggedEvents } from '../helpers/log.ts';

describe('reads and unseals around a seal', () => {
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

  it('the read fails as sealed: protected data never leaves under an entry that does not name its subject', async () => {
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'sr-ann', country: 'US' })).statusCode, 201);
    assert.equal((await h.call('service', 'POST', '/v1/collections/users/records', { id: 'sr-ann-u', data: { user_id: 'sr-ann', username: 'ann', email: 'ann@x.test' } })).statusCode, 201);
    const held = hold(h.enclave.log, 'append', (e) => e.type === 'access.decision', { once: true });
    let status: number;
    let body: string;
    try {
      const reading = h.call('service', 'GET', '/v1/collections/users/records/sr-ann-u');
      await held.reached; // decrypted; its entry not appended yet
      h.enclave.seal.seal();
      held.release();
      const res = await reading;
      [status, body] = [res.statusCode, res.body];
      assert.equal(errorCode(res), 'sealed');
    } finally {
      held.release();
      held.restore();
    }
    assert.equal(status, 503, body);
    assert.doesNotMatch(body, /ann@x\.test/);
    for (const s of h.shares.slice(0, 2)) await h.enclave.seal.submit(s);
    const unlinkable = (await loggedEvents(h.enclave)).filter((e) => e.type === 'access.decision' && e.sealed === true && e.details['release'] === 'protected');
    assert.deepEqual(unlinkable, []);
  });
});
