// POST /v1/sys/unseal from the network: one share counts once, however it is sent (twice at the same
// moment, with white space, in another case); foreign and malformed shares are 400 invalid_share and
// never echoed; no answer carries a share.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitSecret } from '../../src/crypto/shamir-shares.ts';
import { errorCode, json, makeHttpFixture } from '../helpers/http.ts';

describe('unsealing over HTTP', () => {
  it('counts a share once, refuses foreign and malformed ones without echoing them, and unseals at the threshold', async () => {
    const h = await makeHttpFixture({ sealed: true });
    try {
      const unseal = (body: unknown) => h.app.inject({ method: 'POST', url: '/v1/sys/unseal', payload: body as Record<string, unknown> });
      const [a, b] = h.shares;
      assert.ok(a && b);
      // The same share twice at once, and again with white space: one counts, the others are duplicate_share.
      const same = await Promise.all([unseal({ share: a }), unseal({ share: a }), unseal({ share: ` ${a}\n` })]);
      assert.deepEqual(same.map((r) => r.statusCode).sort(), [200, 409, 409]);
      for (const r of same) if (r.statusCode === 409) assert.equal(errorCode(r), 'duplicate_share');
      assert.equal(json(await h.app.inject({ method: 'GET', url: '/v1/sys/seal-status' }))['progress'], 1);
      // A share of another enclave, a share with a flipped byte, index 0, wrong lengths and encodings.
      const foreign = (await splitSecret(new Uint8Array(32).fill(7), 3, 2))[0] ?? '';
      const body = a.slice('enclave-share-v1-'.length);
      const flipped = `enclave-share-v1-${Buffer.from(Buffer.from(body, 'base64url').map((x, i) => (i === 0 ? x ^ 1 : x))).toString('base64url')}`;
      const index0 = `enclave-share-v1-${Buffer.concat([Buffer.from(body, 'base64url').subarray(0, 32), Buffer.of(0)]).toString('base64url')}`;
      for (const bad of [foreign, flipped, index0, a.toUpperCase(), `${a}A`, a.slice(0, -1), `${a}==`, body, `enclave-share-v1-+${body.slice(1)}`, `enclave-share-v1-${body.slice(0, 20)} ${body.slice(20)}`, 'enclave-share-v1-']) {
        const res = await unseal({ share: bad });
        assert.equal(res.statusCode, 400, `${bad}: ${res.body}`);
        assert.equal(errorCode(res), 'invalid_share');
        assert.ok(!res.body.includes(body.slice(0, 12)), 'the share is not echoed');
      }
      const status = await h.app.inject({ method: 'GET', url: '/v1/sys/seal-status' });
      assert.deepEqual(json(status), { initialized: true, sealed: true, threshold: 2, shares: 3, progress: 1, entered: ['alice'], configuration_changed: [] });
      // Still sealed: nothing protected is served.
      assert.equal(errorCode(await h.call('service', 'POST', '/v1/subjects', { id: 'x1', country: 'US' })), 'sealed');
      const done = await unseal({ share: b });
      assert.equal(done.statusCode, 200, done.body);
      assert.equal(json(done)['sealed'], false);
      for (const r of [...same, done, status]) assert.ok(!r.body.includes(body.slice(0, 12)) && !r.body.includes(b.slice(17, 29)), 'no answer carries a share');
    } finally {
      await h.close();
    }
  });
});
