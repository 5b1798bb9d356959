// /metrics is what an operator watches while something is wrong: a control store that does not answer
// must not fail the whole scrape (every metric lost, enclave_sealed with them). And its labels name route
// patterns, never what a request put in its path.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EnclaveError } from '../../src/core/errors.ts';
import { makeHttpFixture, type HttpFixture } from '../helpers/http.ts';

describe('/metrics', () => {
  let h: HttpFixture;
  before(async () => {
    h = await makeHttpFixture();
  });
  after(async () => h.close());

  const value = (text: string, name: string) => text.split('\n').find((l) => l.startsWith(`${name} `))?.slice(name.length + 1);

  it('still answers while the control store cannot be read, with the break-glass gauge NaN', async () => {
    const requests = h.enclave.control.accessRequests;
    const list = requests.list.bind(requests);
    // The real store, failing as an unreachable database does (the adapters' typed error).
    requests.list = () => Promise.reject(new EnclaveError('storage_unavailable', 'the store could not be reached'));
    try {
      const res = await h.app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(value(res.body, 'enclave_sealed'), '0');
      assert.equal(value(res.body, 'enclave_breakglass_overdue'), 'Nan', 'prom-client writes NaN as Nan');
      assert.match(res.body, /^enclave_process_/m);
    } finally {
      requests.list = list;
    }
    const res = await h.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(value(res.body, 'enclave_breakglass_overdue'), '0', 'a number again once the store answers');
  });

  it('labels requests by route pattern, never by the ids or paths they were sent with', async () => {
    for (const url of ['/v1/subjects/probe-id-1', '/nothing/probe-id-2', '/log/tile/probe-id-3/000', '/v1/subjects/probe%22%7D%0Aid-4']) {
      await h.call('service', 'GET', url);
      await h.call(null, 'PATCH', url);
    }
    const res = await h.app.inject({ method: 'GET', url: '/metrics' });
    const lines = res.body.split('\n').filter((l) => l.startsWith('enclave_http_'));
    assert.ok(lines.length > 0);
    for (const line of lines) assert.doesNotMatch(line, /probe|id-\d/, line);
    assert.ok(lines.some((l) => l.includes('route="/v1/subjects/:id"')));
    assert.ok(lines.some((l) => l.includes('route="unmatched"')));
  });
});
