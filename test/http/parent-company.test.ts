// Invariant 2: the parent company's principals never receive a protected value. The parent's engineer
// calls every endpoint of the API (read from openapi.json, so new endpoints are covered automatically)
// with real ids and well-formed bodies, and no response may contain any protected value of the data.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeHttpFixture, type HttpFixture } from '../helpers/http.ts';
import { apiRoutes, fill } from '../helpers/routes.ts';

let h: HttpFixture;
const secrets: string[] = [];

function secret(label: string): string {
  const v = `${label}-${Math.random().toString(36).slice(2, 10)}`;
  secrets.push(v);
  return v;
}

before(async () => {
  h = await makeHttpFixture();
  for (const [id, country] of [['ann', 'US'], ['jonas', 'DE']] as const) {
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id, country })).statusCode, 201);
    const writes: [string, string, Record<string, unknown>][] = [
      ['users', `${id}-profile`, { user_id: id, username: id, email: `${secret('email')}@example.test`, phone: secret('phone'), birthdate: '1990-01-01' }],
      ['messages', `${id}-msg`, { sender_id: id, recipient_id: secret('recipient'), body: secret('body'), sent_at: '2026-03-01T12:00:00Z' }],
      ['devices', `${id}-dev`, { user_id: id, model: secret('model'), os: secret('os'), ip_address: secret('ip'), location: secret('location') }],
      ['watch_history', `${id}-wh`, { user_id: id, video_id: secret('video'), watched_at: '2026-03-02T12:00:00Z', seconds: 4242 }],
      ['videos', `${id}-vid`, { owner_id: id, title: 'public title', views: 1, published_at: '2026-03-03T12:00:00Z' }],
    ];
    for (const [collection, rid, data] of writes) {
      assert.equal((await h.call('service', 'POST', `/v1/collections/${collection}/records`, { id: rid, data })).statusCode, 201, `${collection}`);
    }
  }
  // The birthdate is protected too. (Protected integers are not scanned for: short digit runs occur in
  // unrelated figures such as /metrics.)
  secrets.push('1990-01-01');
});
after(async () => h.close());

const bodies: Record<string, unknown> = {
  'POST /v1/subjects': { id: 'parent-made', country: 'US' },
  'POST /v1/subjects/{id}/rehome': { country: 'DE' },
  'POST /v1/collections/{collection}/records': { id: 'parent-rec', data: { user_id: 'ann', username: 'p', email: 'p@example.test' } },
  'PUT /v1/collections/{collection}/records/{id}': { data: { user_id: 'ann', username: 'p', email: 'p@example.test' } },
  'POST /v1/sys/unseal': { reset: true },
};

test('the parent company calls every endpoint and never receives a protected value', async () => {
  const routes = await apiRoutes(h.app);
  const seen: string[] = [];
  for (const r of routes) {
    for (const collection of ['users', 'messages', 'devices', 'watch_history']) {
      for (const subject of ['ann', 'jonas']) {
        const suffix = collection === 'users' ? 'profile' : collection === 'messages' ? 'msg' : collection === 'devices' ? 'dev' : 'wh';
        const id = r.template.startsWith('/v1/subjects') ? subject : `${subject}-${suffix}`;
        const url = fill(r.template, { collection, id });
        const key = `${r.method} ${r.template}`;
        const res = await h.call('parent', r.method, url, bodies[key]);
        seen.push(`${key} ${res.statusCode}`);
        assert.ok(res.statusCode < 500, `${key} -> ${res.statusCode} ${res.body.slice(0, 200)}`);
        for (const s of secrets) assert.ok(!res.body.includes(s), `${r.method} ${url} leaked a protected value to the parent company`);
        for (const v of Object.values(res.headers)) for (const s of secrets) assert.ok(!String(v).includes(s), `${url} leaked in a header`);
      }
    }
  }
  // The parent really reached the data paths: public reads succeed (redacted), protected writes are refused.
  assert.ok(seen.includes('GET /v1/collections/{collection}/records/{id} 200'));
  assert.ok(seen.includes('GET /v1/subjects/{id}/records 200'));
  assert.ok(seen.some((s) => s.startsWith('POST /v1/collections/{collection}/records 403')));
  assert.ok(seen.some((s) => s.startsWith('PUT /v1/collections/{collection}/records/{id} 403')));
  assert.ok(seen.some((s) => s.startsWith('DELETE /v1/collections/{collection}/records/{id} 403')));
  assert.ok(seen.some((s) => s.startsWith('DELETE /v1/subjects/{id} 403')));
  // Nothing the parent did changed the data: every record still reads back whole for the service.
  const back = await h.call('service', 'GET', '/v1/collections/users/records/ann-profile');
  assert.equal(back.statusCode, 200);
  assert.ok(secrets.some((s) => back.body.includes(s)));
  assert.equal((await h.call('service', 'GET', '/v1/subjects/ann')).statusCode, 200);
});

test('a configuration cannot give the parent company protected reads', async () => {
  const { parseConfigText } = await import('../../src/services/config-loader.ts');
  const { readFileSync } = await import('node:fs');
  const text = readFileSync(h.configPath, 'utf8').replace(/(id: engineer\n\s+actions: \[[^\]]*\]\n\s+reads: )public/, '$1protected');
  assert.notEqual(text, readFileSync(h.configPath, 'utf8'), 'the test must actually change the parent role');
  assert.throws(() => parseConfigText(text, 'enclave.yaml', h.dir), (err: Error & { code?: string }) => err.code === 'invalid_config' && /parent company/.test(err.message));
});
