// A path the API serves, asked with a method it does not serve there, is 405 with an Allow header that
// lists exactly the methods it does serve (RFC 9110 §15.5.6); a path it does not serve at all is 404.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { errorCode, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';
import { apiRoutes, fill, type RouteRef } from '../helpers/routes.ts';

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'] as const;

function matches(template: string, path: string): boolean {
  const pattern = template.split(/\{\w+\}/).map((s) => s.replace(/[.*+?^$()|[\]\\]/g, '\\$&')).join('[^/]+');
  return new RegExp(`^${pattern}$`).test(path);
}

describe('methods a path does not serve', () => {
  let h: HttpFixture;
  let routes: RouteRef[];
  before(async () => {
    h = await makeHttpFixture();
    routes = await apiRoutes(h.app);
  });
  after(async () => h.close());

  it('are 405 with the methods the path serves in Allow, for every path of the OpenAPI document', async () => {
    const paths = new Set(routes.map((r) => fill(r.template, {})));
    let checked = 0;
    for (const path of paths) {
      const served = new Set(routes.filter((r) => matches(r.template, path)).map((r) => r.method));
      // Fastify answers HEAD wherever it answers GET.
      const allow = [...served, ...(served.has('GET') ? ['HEAD'] : [])].sort();
      for (const method of METHODS.filter((m) => !served.has(m))) {
        const res = await h.call('parent', method, path);
        assert.equal(res.statusCode, 405, `${method} ${path}: ${res.body}`);
        assert.equal(errorCode(res), 'method_not_allowed');
        assert.deepEqual(String(res.headers.allow).split(', ').sort(), allow, `${method} ${path}`);
        checked++;
      }
    }
    assert.ok(checked > 50, `only ${checked} cases`);
  });

  it('are 405 for ids as long as the server takes (path parameters up to 200 characters)', async () => {
    for (const length of [150, 200]) {
      const res = await h.call('parent', 'PATCH', `/v1/collections/users/records/${'a'.repeat(length)}`);
      assert.equal(res.statusCode, 405, `${length}: ${res.body}`);
      assert.equal(res.headers.allow, 'GET, HEAD, PUT, DELETE');
    }
  });

  it('are 404 where the path is served by no method at all', async () => {
    for (const path of ['/v1/nothing', '/v1/collections/users/records/ann/extra', '/v2/subjects']) {
      for (const method of METHODS) {
        const res = await h.call(null, method, path);
        assert.equal(res.statusCode, 404, `${method} ${path}`);
        assert.equal(errorCode(res), 'not_found');
        assert.equal(res.headers.allow, undefined);
      }
    }
  });
});
