// Access requests, approvals, grants and break-glass over HTTP (issue 3 points 2–4), with adversarial
// cases: self-approval, approval replay onto another request, tampered requests, expiry by the clock
// alone, revocation, break-glass limits, and the parent company, which no grant ever opens.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { EnclaveError } from '../../src/core/errors.ts';
import { errorCode, json, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';
import type { RoleName } from '../helpers/fixture.ts';
import { loggedEvents } from '../helpers/log.ts';

interface RequestView {
  id: string;
  digest: string;
  status: string;
  grant: string | null;
  review?: string;
  quorum: { k: number; met: boolean; missing: string };
  approvals: { approver: string; counts: boolean }[];
}
interface RecordBody {
  data: Record<string, unknown>;
  withheld: string[];
  grant?: { id: string; breakglass: boolean };
}

const HOUR = 3_600_000;
const SECRET_BODY = 'secret-body-7d1f';
const SECRET_EMAIL = 'ann-private@example.test';
const JUSTIFICATION = { code: 'support-ticket', text: 'ticket 4711: the user reports messages missing from their inbox' };

describe('access requests, approvals and grants', () => {
  let h: HttpFixture;
  let now = Date.parse('2026-05-01T09:00:00Z');

  const as = (role: RoleName, method: 'GET' | 'POST', url: string, body?: unknown, headers: Record<string, string> = {}) => h.call(role, method, url, body, headers);
  const readMessage = (role: RoleName, purpose?: string, id = 'ann-msg') =>
    as(role, 'GET', `/v1/collections/messages/records/${id}`, undefined, purpose === undefined ? {} : { 'enclave-purpose': purpose });
  const requestAccess = async (role: RoleName = 'officer', body: Record<string, unknown> = {}) => {
    const res = await as(role, 'POST', '/v1/access/requests', { scope: { subjects: ['ann'], collections: ['messages'] }, purpose: 'support', justification: JUSTIFICATION, duration_seconds: 3600, ...body });
    assert.equal(res.statusCode, 201, res.body);
    return json<RequestView>(res);
  };
  const verdict = (role: RoleName, id: string, digest: string, v: 'approve' | 'deny' = 'approve') => as(role, 'POST', `/v1/access/requests/${id}/${v}`, { digest });
  const events = () => loggedEvents(h.enclave);

  before(async () => {
    h = await makeHttpFixture({ open: { clock: () => now } });
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' })).statusCode, 201);
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'bo', country: 'US' })).statusCode, 201);
    for (const [c, id, data] of [
      ['messages', 'ann-msg', { sender_id: 'ann', recipient_id: 'bo', body: SECRET_BODY, sent_at: '2026-04-30T10:00:00Z' }],
      ['messages', 'bo-msg', { sender_id: 'bo', recipient_id: 'ann', body: 'bo-secret', sent_at: '2026-04-30T10:00:00Z' }],
      ['users', 'ann-u', { user_id: 'ann', username: 'ann', email: SECRET_EMAIL }],
    ] as const) {
      assert.equal((await h.call('service', 'POST', `/v1/collections/${c}/records`, { id, data })).statusCode, 201);
    }
  });
  after(async () => h.close());

  test('without a grant an officer gets the record redacted, not an error', async () => {
    const res = await readMessage('officer', 'support');
    assert.equal(res.statusCode, 200);
    const body = json<RecordBody>(res);
    assert.deepEqual(body.withheld, ['recipient_id', 'body', 'sent_at']);
    assert.ok(!res.body.includes(SECRET_BODY));
    assert.equal(body.grant, undefined);
  });

  test('k distinct approvers from both groups create the grant; the requester never counts', async () => {
    const r = await requestAccess();
    assert.equal(r.status, 'pending');
    assert.equal(r.quorum.met, false);
    assert.match(r.digest, /^sha256:[0-9a-f]{64}$/);

    const self = await verdict('officer', r.id, r.digest);
    assert.equal(self.statusCode, 403);
    assert.equal(errorCode(self), 'self_approval');

    const first = await verdict('approver', r.id, r.digest);
    assert.equal(first.statusCode, 200, first.body);
    const after1 = json<RequestView>(first);
    assert.equal(after1.status, 'pending', 'one gatekeeper is not enough: a trusted-provider monitor must approve too');
    assert.match(after1.quorum.missing, /monitors/);
    assert.equal(errorCode(await verdict('approver', r.id, r.digest)), 'already_reviewed');
    assert.equal((await readMessage('officer', 'support')).body.includes(SECRET_BODY), false, 'no access before the quorum');

    const second = await verdict('provider', r.id, r.digest);
    const done = json<RequestView>(second);
    assert.equal(done.status, 'approved', second.body);
    assert.match(done.grant ?? '', /^gr_/);
    assert.deepEqual(done.approvals.map((a) => a.counts), [true, true]);

    const read = await readMessage('officer', 'support');
    assert.equal(read.statusCode, 200);
    const body = json<RecordBody>(read);
    assert.equal(body.data['body'], SECRET_BODY);
    assert.deepEqual(body.withheld, []);
    assert.deepEqual(body.grant, { id: done.grant, breakglass: false }, 'a read under a grant names it');
    assert.equal(read.headers['enclave-grant'], done.grant);

    // The grant covers its scope only: its purpose, its collection, its subject.
    assert.ok(!(await readMessage('officer')).body.includes(SECRET_BODY), 'no purpose stated');
    assert.ok(!(await readMessage('officer', 'legal')).body.includes(SECRET_BODY), 'another purpose');
    assert.ok(!(await readMessage('officer', 'support', 'bo-msg')).body.includes('bo-secret'), 'another subject');
    const profile = await as('officer', 'GET', '/v1/collections/users/records/ann-u', undefined, { 'enclave-purpose': 'support' });
    assert.ok(!profile.body.includes(SECRET_EMAIL), 'another collection');
    // The subject's list releases the granted collection only.
    const listed = await as('officer', 'GET', '/v1/subjects/ann/records', undefined, { 'enclave-purpose': 'support' });
    const list = json<{ records: RecordBody[] }>(listed);
    assert.deepEqual(list.records.map((r) => r.grant?.id ?? null), [done.grant, null]);
    assert.equal(listed.headers['enclave-grant'], done.grant, 'a list read under a grant names it in the header too');
    const unGranted = await as('officer', 'GET', '/v1/subjects/ann/records?collection=users', undefined, { 'enclave-purpose': 'support' });
    assert.equal(unGranted.statusCode, 200);
    assert.equal(unGranted.headers['enclave-grant'], undefined, 'no grant, no header');

    const logged = await events();
    const types = logged.map((e) => e.type);
    for (const t of ['access.requested', 'access.approved', 'grant.created'] as const) assert.ok(types.includes(t), `${t} logged`);
    const created = logged.find((e) => e.type === 'grant.created' && e.details['grant'] === done.grant);
    assert.equal(created?.subject, h.enclave.log.hashSubject('ann'), 'the subject is in the log as its keyed hash, never raw');
    assert.ok(!JSON.stringify(logged).includes('"ann"'), 'no raw subject id anywhere in the entries');
    assert.ok(!JSON.stringify(logged).includes(SECRET_BODY));
    // The read under the grant is in the log, naming the grant, before the data left.
    assert.ok(logged.some((e) => e.type === 'access.decision' && e.details['grant'] === done.grant && e.details['release'] === 'protected'));
  });

  test('a grant expires by the clock, with no job running, and a revoked grant opens nothing', async () => {
    const r = await requestAccess('officer', { duration_seconds: 600 });
    await verdict('approver', r.id, r.digest);
    const grantId = json<RequestView>(await verdict('provider', r.id, r.digest)).grant;
    assert.ok(grantId);
    // The earlier test's one-hour grant is still active; revoke it so only this one can open the data.
    for (const g of json<{ grants: { id: string; state: string }[] }>(await as('officer', 'GET', '/v1/access/grants')).grants) {
      if (g.id !== grantId && g.state === 'active') assert.equal((await as('officer', 'POST', `/v1/access/grants/${g.id}/revoke`)).statusCode, 200);
    }
    assert.equal(json<RecordBody>(await readMessage('officer', 'support')).data['body'], SECRET_BODY);
    now += 600_000;
    const expired = json<RecordBody>(await readMessage('officer', 'support'));
    assert.equal(expired.data['body'], undefined, 'expired exactly at its end');
    assert.equal(expired.grant, undefined);
    const listed = json<{ grants: { id: string; state: string }[] }>(await as('officer', 'GET', '/v1/access/grants')).grants.find((g) => g.id === grantId);
    assert.equal(listed?.state, 'expired');

    const r2 = await requestAccess();
    await verdict('approver', r2.id, r2.digest);
    const g2 = json<RequestView>(await verdict('provider', r2.id, r2.digest)).grant;
    assert.equal(json<RecordBody>(await readMessage('officer', 'support')).data['body'], SECRET_BODY);
    const revoked = await as('approver', 'POST', `/v1/access/grants/${g2}/revoke`);
    assert.equal(revoked.statusCode, 200);
    assert.equal(json<{ state: string; revoked_by: string }>(revoked).state, 'revoked');
    assert.equal(json<RecordBody>(await readMessage('officer', 'support')).data['body'], undefined, 'revoked at once, cache or not');
    assert.ok((await events()).some((e) => e.type === 'grant.revoked' && e.details['grant'] === g2));
  });

  test('an approval cannot be replayed onto another request, and a tampered request cannot be approved', async () => {
    const a = await requestAccess();
    const b = await requestAccess();
    assert.notEqual(a.digest, b.digest, 'the digest covers the request id: identical content, different digests');
    await verdict('approver', a.id, a.digest);
    const replay = await verdict('provider', b.id, a.digest);
    assert.equal(replay.statusCode, 409);
    assert.equal(errorCode(replay), 'digest_mismatch');
    // The answer does not hand out the right digest: an approval must come from having read the request.
    assert.ok(!JSON.stringify(json(replay)).includes(b.digest.slice('sha256:'.length)), 'the refusal does not name the digest to approve');
    // A's approval does not count for B: B still needs both of its own approvals.
    const bNow = json<RequestView>(await as('officer', 'GET', `/v1/access/requests/${b.id}`));
    assert.deepEqual(bNow.approvals, []);
    assert.equal(json<RequestView>(await verdict('provider', b.id, b.digest)).status, 'pending');

    // Someone with access to the control store widens A's scope: its digest no longer matches.
    const db = new DatabaseSync(join(h.dataDir, 'control.db'));
    try {
      db.prepare('UPDATE access_requests SET scope = ? WHERE id = ?').run(JSON.stringify({ subjects: [], collections: ['messages', 'users'], fields: [] }), a.id);
    } finally {
      db.close();
    }
    const tampered = await verdict('provider', a.id, a.digest);
    assert.equal(errorCode(tampered), 'digest_mismatch');
    assert.match(json<{ error: { message: string } }>(tampered).error.message, /altered/);
  });

  test('pending requests expire; a denial ends a request; nothing can be decided afterwards', async () => {
    const r = await requestAccess();
    now += 24 * HOUR;
    const late = await verdict('approver', r.id, r.digest);
    assert.equal(late.statusCode, 409);
    assert.equal(errorCode(late), 'not_pending');
    assert.equal(json<RequestView>(await as('officer', 'GET', `/v1/access/requests/${r.id}`)).status, 'expired');
    const listed = json<{ requests: RequestView[] }>(await as('provider', 'GET', '/v1/access/requests?status=expired')).requests;
    assert.ok(listed.some((x) => x.id === r.id));

    const d = await requestAccess();
    const denied = json<RequestView>(await verdict('provider', d.id, d.digest, 'deny'));
    assert.equal(denied.status, 'denied');
    assert.equal(errorCode(await verdict('approver', d.id, d.digest)), 'not_pending');
    assert.ok((await events()).some((e) => e.type === 'access.denied'));
  });

  test('requests are validated: scope, purpose, justification, duration', async () => {
    const bad = async (body: Record<string, unknown>, code: string) => {
      const res = await as('officer', 'POST', '/v1/access/requests', { scope: { subjects: ['ann'] }, purpose: 'support', justification: JUSTIFICATION, duration_seconds: 60, ...body });
      assert.equal(errorCode(res), code, `${JSON.stringify(body)} -> ${res.body}`);
      assert.ok(res.statusCode >= 400 && res.statusCode < 500);
    };
    await bad({ justification: { code: 'support-ticket', text: '.' } }, 'invalid_justification');
    await bad({ justification: { code: 'support-ticket', text: '.....................................' } }, 'invalid_justification');
    await bad({ justification: { code: 'support-ticket', text: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' } }, 'invalid_justification');
    await bad({ justification: { code: 'because', text: JUSTIFICATION.text } }, 'invalid_justification');
    await bad({ purpose: 'curiosity' }, 'unknown_purpose');
    await bad({ duration_seconds: 8 * 3600 + 1 }, 'invalid_duration');
    await bad({ duration_seconds: 0 }, 'invalid_request');
    await bad({ scope: {} }, 'invalid_scope');
    await bad({ scope: { collections: ['videos'] } }, 'invalid_scope');
    await bad({ scope: { fields: ['users.username'] } }, 'invalid_scope');
    await bad({ scope: { collections: ['nope'] } }, 'invalid_scope');
    // A subject the enclave does not hold: named in the refusal, nothing stored (a grant on it would open nothing).
    for (const path of ['/v1/access/requests', '/v1/break-glass']) {
      const before = json<{ requests: unknown[] }>(await as('officer', 'GET', '/v1/access/requests')).requests.length;
      const body = path === '/v1/access/requests' ? {} : { purpose: 'security', justification: { code: 'security-incident', text: 'account takeover in progress, tracing the attacker' } };
      const res = await as('officer', 'POST', path, { scope: { subjects: ['ann', 'ghost-1', 'ghost-2'] }, purpose: 'support', justification: JUSTIFICATION, duration_seconds: 60, ...body });
      assert.equal(res.statusCode, 422, res.body);
      assert.equal(errorCode(res), 'invalid_scope');
      assert.match(res.body, /unknown subject ids \\"ghost-1\\", \\"ghost-2\\"/);
      assert.equal(json<{ requests: unknown[] }>(await as('officer', 'GET', '/v1/access/requests')).requests.length, before, path);
    }
    // An erased subject: nothing of theirs can be opened, so no grant is asked for them.
    assert.equal((await as('service', 'POST', '/v1/subjects', { id: 'gone-1', country: 'US' })).statusCode, 201);
    assert.equal((await h.call('officer', 'DELETE', '/v1/subjects/gone-1')).statusCode, 200);
    const erased = await as('officer', 'POST', '/v1/access/requests', { scope: { subjects: ['gone-1'] }, purpose: 'support', justification: JUSTIFICATION, duration_seconds: 60 });
    assert.equal(errorCode(erased), 'invalid_scope');
    assert.match(erased.body, /erased subject \\"gone-1\\"/);
    // A home site that cannot be asked does not hold the request up: the grant would open only what exists.
    const router = h.enclave.router;
    const find = router.findSubjects.bind(router);
    router.findSubjects = () => Promise.reject(new EnclaveError('storage_unavailable', 'site down'));
    try {
      const unchecked = await as('officer', 'POST', '/v1/access/requests', { scope: { subjects: ['ghost-3'] }, purpose: 'support', justification: JUSTIFICATION, duration_seconds: 60 });
      assert.equal(unchecked.statusCode, 201, unchecked.body);
    } finally {
      router.findSubjects = find;
    }
    await bad({ scope: { subjects: ['../etc'] } }, 'invalid_request');
    await bad({ scope: { subjects: ['ann'], extra: 1 } }, 'invalid_request');
  });

  test('a grant limited to some fields releases those and withholds the rest', async () => {
    const r = await requestAccess('officer', { scope: { subjects: ['ann'], fields: ['users.email'] } });
    await verdict('approver', r.id, r.digest);
    await verdict('provider', r.id, r.digest);
    const body = json<RecordBody>(await as('officer', 'GET', '/v1/collections/users/records/ann-u', undefined, { 'enclave-purpose': 'support' }));
    assert.equal(body.data['email'], SECRET_EMAIL);
    assert.deepEqual(body.withheld, ['phone', 'birthdate']);
    assert.equal(body.grant?.id, r.grant ?? json<RequestView>(await as('officer', 'GET', `/v1/access/requests/${r.id}`)).grant);
  });

  test('the parent company can neither request, approve nor open break-glass, and a grant forced into the store opens nothing', async () => {
    const req = await as('parent', 'POST', '/v1/access/requests', { scope: { subjects: ['ann'] }, purpose: 'support', justification: JUSTIFICATION, duration_seconds: 60 });
    assert.equal(req.statusCode, 403);
    assert.match(json<{ error: { details: { policies: string[] } } }>(req).error.details.policies.join(','), /invariant\/parent/);
    const r = await requestAccess();
    assert.equal((await verdict('parent', r.id, r.digest)).statusCode, 403);
    assert.equal((await as('parent', 'POST', '/v1/break-glass', { scope: { subjects: ['ann'] }, purpose: 'security', justification: JUSTIFICATION, duration_seconds: 60 })).statusCode, 403);
    assert.equal((await as('parent', 'GET', '/v1/access/requests')).statusCode, 403);

    // Forge an approved request and an active grant for the parent's principal directly in the store.
    const parentId = h.principals.parent.id;
    const forged = { ...(await h.enclave.control.accessRequests.get(r.id)), id: 'req_forgedforged', requester: parentId } as Parameters<typeof h.enclave.control.accessRequests.insert>[0];
    const grant = { id: 'gr_forgedforged', requestId: forged.id, principal: parentId, scope: JSON.stringify({ subjects: [], collections: ['messages', 'users'], fields: [] }), purpose: 'support', breakglass: false, createdAt: now, expiresAt: now + HOUR, revokedAt: null, revokedBy: null };
    await h.enclave.control.accessRequests.insert({ ...forged, status: 'approved' }, grant);
    h.enclave.grants.add(grant);
    for (const purpose of [undefined, 'support']) {
      const res = await readMessage('parent', purpose);
      assert.equal(res.statusCode, 200);
      assert.ok(!res.body.includes(SECRET_BODY), 'the parent never receives a protected value, whatever grant exists');
      assert.deepEqual(json<RecordBody>(res).withheld, ['recipient_id', 'body', 'sent_at']);
    }
  });
});

describe('break-glass', () => {
  let h: HttpFixture;
  let now = Date.parse('2026-06-01T09:00:00Z');
  const open = (role: RoleName, body: Record<string, unknown> = {}) =>
    h.call(role, 'POST', '/v1/break-glass', { scope: { subjects: ['ann'], collections: ['messages'] }, purpose: 'security', justification: { code: 'security-incident', text: 'account takeover in progress, tracing the attacker messages' }, duration_seconds: 1800, ...body });
  const review = (role: RoleName, id: string, digest: string, v: 'justified' | 'unjustified' = 'justified') => h.call(role, 'POST', `/v1/break-glass/${id}/review`, { digest, verdict: v });
  const read = () => h.call('officer', 'GET', '/v1/collections/messages/records/ann-msg', undefined, { 'enclave-purpose': 'security' });

  before(async () => {
    h = await makeHttpFixture({ open: { clock: () => now } });
    await h.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' });
    await h.call('service', 'POST', '/v1/collections/messages/records', { id: 'ann-msg', data: { sender_id: 'ann', recipient_id: 'x', body: SECRET_BODY, sent_at: '2026-04-30T10:00:00Z' } });
  });
  after(async () => h.close());

  test('only configured roles open it, only briefly, only with a justification', async () => {
    assert.equal((await open('approver')).statusCode, 403, 'gatekeeper approvers are not break-glass roles');
    assert.equal((await open('service')).statusCode, 403);
    const tooLong = await open('officer', { duration_seconds: 3601 });
    assert.equal(errorCode(tooLong), 'invalid_duration', 'longer than break_glass.max_duration (1h)');
    // The message names the limit as the CLI's --duration takes it (1h), not only as seconds.
    assert.match(json<{ error: { message: string } }>(tooLong).error.message, /from 1 to 3600 \(1h, the configured maximum for break-glass \(gatekeeper\.break_glass\.max_duration\)\)/);
    assert.equal(errorCode(await open('officer', { justification: { code: 'security-incident', text: 'urgent' } })), 'invalid_justification');
  });

  test('it opens at once, is flagged everywhere, is reported overdue, and k reviewers close it', async () => {
    const res = await open('officer');
    assert.equal(res.statusCode, 201, res.body);
    const bg = json<RequestView>(res);
    assert.match(bg.id, /^bg_/);
    assert.equal(bg.review, 'awaiting-review');
    const got = await read();
    assert.deepEqual(json<RecordBody>(got).grant, { id: bg.grant, breakglass: true });
    assert.equal(got.headers['enclave-grant'], `${bg.grant}; break-glass`);
    assert.equal(json<RecordBody>(got).data['body'], SECRET_BODY);
    const log = await loggedEvents(h.enclave);
    assert.ok(log.some((e) => e.type === 'breakglass.opened'));
    assert.ok(log.some((e) => e.type === 'grant.created' && e.details['breakglass'] === true));

    now += 24 * HOUR + 1;
    const listed = json<{ requests: RequestView[]; overdue: number }>(await h.call('provider', 'GET', '/v1/break-glass?review=overdue'));
    assert.equal(listed.overdue, 1);
    assert.deepEqual(listed.requests.map((r) => r.id), [bg.id]);
    assert.match((await h.call(null, 'GET', '/metrics')).body, /^enclave_breakglass_overdue 1$/m, 'overdue is a metric an alert can watch');
    assert.equal(json<RecordBody>(await read()).data['body'], undefined, 'the grant itself ended after its 30 minutes');

    assert.equal(errorCode(await review('officer', bg.id, bg.digest)), 'self_approval');
    assert.equal(json<RequestView>(await review('approver', bg.id, bg.digest)).review, 'overdue', 'one review of two');
    const done = json<RequestView>(await review('provider', bg.id, bg.digest));
    assert.equal(done.review, 'reviewed');
    assert.match((await h.call(null, 'GET', '/metrics')).body, /^enclave_breakglass_overdue 0$/m);
    assert.ok((await loggedEvents(h.enclave)).some((e) => e.type === 'breakglass.reviewed' && e.details['late'] === true));
  });

  test('an unjustified verdict revokes the break-glass grant at once', async () => {
    const bg = json<RequestView>(await open('officer'));
    assert.equal(json<RecordBody>(await read()).data['body'], SECRET_BODY);
    const judged = json<RequestView>(await review('provider', bg.id, bg.digest, 'unjustified'));
    assert.equal(judged.review, 'unjustified');
    assert.equal(json<RecordBody>(await read()).data['body'], undefined);
    const grant = json<{ grants: { id: string; state: string }[] }>(await h.call('officer', 'GET', '/v1/access/grants')).grants.find((g) => g.id === bg.grant);
    assert.equal(grant?.state, 'revoked');
  });
});

describe('break-glass limits', () => {
  // The starter's gatekeeper.break_glass: max_subjects 10, max_open 1.
  let h: HttpFixture;
  let now = Date.parse('2026-06-02T09:00:00Z');
  let otherToken: string;
  const body = (scope: Record<string, unknown>, duration_seconds = 1800) => ({ scope, purpose: 'security', justification: { code: 'security-incident', text: 'account takeover in progress, tracing the attacker' }, duration_seconds });
  const open = (scope: Record<string, unknown>, duration_seconds?: number) => h.call('officer', 'POST', '/v1/break-glass', body(scope, duration_seconds));
  const message = (res: Parameters<typeof json>[0]) => json<{ error: { message: string } }>(res).error.message;
  const stored = async () => (await h.enclave.control.accessRequests.list({ kind: 'breakglass', limit: 1000 })).length;

  before(async () => {
    h = await makeHttpFixture({ open: { clock: () => now } });
    for (const id of ['ann', 'bo']) assert.equal((await h.call('service', 'POST', '/v1/subjects', { id, country: 'US' })).statusCode, 201);
    otherToken = (await h.enclave.tokens.issue({ principal: 'officer-2', org: 'gatekeeper', role: 'officer' })).secret;
  });
  after(async () => h.close());

  test('a scope of more than max_subjects subjects, or of whole collections, is 422 invalid_scope and stores nothing', async () => {
    const over = await open({ subjects: Array.from({ length: 11 }, (_, i) => `u-${i}`), collections: ['messages'] });
    assert.equal(over.statusCode, 422, over.body);
    assert.equal(errorCode(over), 'invalid_scope');
    assert.match(message(over), /at most 10 \(gatekeeper\.break_glass\.max_subjects\) subjects, this scope names 11: file an access request/);
    const whole = await open({ collections: ['messages'] });
    assert.equal(whole.statusCode, 422, whole.body);
    assert.match(message(whole), /must name its subjects, .* never opens whole collections: file an access request/);
    assert.equal(await stored(), 0);
  });

  test('a second one while the first is open is 409 breakglass_limit; another officer, a revocation and expiry are not held up', async () => {
    const first = await open({ subjects: ['ann'] });
    assert.equal(first.statusCode, 201, first.body);
    const grant = json<RequestView>(first).grant ?? '';
    const second = await open({ subjects: ['bo'] });
    assert.equal(second.statusCode, 409, second.body);
    assert.equal(errorCode(second), 'breakglass_limit');
    assert.match(message(second), new RegExp(`^1 break-glass grant is open for you \\(${grant}\\), .*max_open \\(1\\).*revoke it \\(enclave access revoke ${grant}\\) or wait until it expires at 2026-06-02T09:30:00\\.000Z`));
    assert.equal(await stored(), 1, 'the refused one left no request');

    const other = await h.app.inject({ method: 'POST', url: '/v1/break-glass', headers: { authorization: `Bearer ${otherToken}` }, payload: body({ subjects: ['bo'] }) });
    assert.equal(other.statusCode, 201, `another principal is not affected: ${other.body}`);

    assert.equal((await h.call('officer', 'POST', `/v1/access/grants/${grant}/revoke`)).statusCode, 200);
    const afterRevoke = await open({ subjects: ['bo'] }, 60);
    assert.equal(afterRevoke.statusCode, 201, afterRevoke.body);
    assert.equal(errorCode(await open({ subjects: ['ann'] })), 'breakglass_limit');
    now += 60_000;
    assert.equal((await open({ subjects: ['ann'] })).statusCode, 201, 'the 60-second one expired');
  });
});

describe('the subjects an access scope names', () => {
  // The officer may request access but, here, may not look subjects up.
  let h: HttpFixture;
  before(async () => {
    h = await makeHttpFixture({
      config: (s) => s.replace('actions: [record.read, record.write, record.delete, subject.register, subject.read, subject.erase,', 'actions: [record.read, record.write, record.delete, subject.register, subject.erase,'),
    });
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' })).statusCode, 201);
  });
  after(async () => h.close());

  const ask = (subjects: string[]) => h.call('officer', 'POST', '/v1/access/requests', { scope: { subjects, collections: ['messages'] }, purpose: 'support', justification: JUSTIFICATION, duration_seconds: 60 });

  test('are named only by who may read subjects: otherwise 403, and no answer says whether they exist', async () => {
    for (const subjects of [['ann'], ['ghost']]) {
      const res = await ask(subjects);
      assert.equal(res.statusCode, 403, res.body);
      assert.equal(errorCode(res), 'forbidden');
    }
    // A scope of collections only names no subject: allowed as before.
    const wide = await h.call('officer', 'POST', '/v1/access/requests', { scope: { collections: ['messages'] }, purpose: 'support', justification: JUSTIFICATION, duration_seconds: 60 });
    assert.equal(wide.statusCode, 201, wide.body);
  });
});
