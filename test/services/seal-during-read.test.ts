// A read decrypted its record, then waited for its access.decision entry while a seal came: the log,
// without its subject key, recorded the decision as taken while sealed, naming no subject, and the
// protected data was served. Invariant 4: every access to protected data is in the log, linkable to its
// subject, before the data leaves. Such a read now fails (503 sealed) and nothing unlinkable is logged.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hold } from '../helpers/hold.ts';
import { errorCode, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';
import { loggedEvents } from '../helpers/log.ts';

describe('a seal while a read waits for its log entry', () => {
  let h: HttpFixture;
  before(async () => {
    h = await makeHttpFixture();
  });
  after(async () => h.close());

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
