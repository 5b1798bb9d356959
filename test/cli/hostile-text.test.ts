// Text the CLI did not write itself — a record's fields, a justification, a token's label, policy text,
// an error message relayed from the API, table and key names of a legacy source — is printed without its
// control characters reaching the terminal: no ESC [ sequence, no OSC 52 clipboard write, no \r that
// overwrites a line. A hostile server answers the CLI here; --json stays valid JSON that means what the
// server sent.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { describePlan, describeVerification } from '../../src/cli/migrate/describe.ts';
import type { Io } from '../../src/cli/io.ts';
import { Output } from '../../src/cli/output.ts';
import { runCli } from '../../src/cli/program.ts';
import type { VerificationInfo } from '../../src/core/migration-state.ts';
import type { MigrationPlan } from '../../src/services/migration/migration-planner.ts';
import { memoryIo } from './helpers.ts';

/** A clipboard write (OSC 52) and a screen clear: what a hostile value would like a terminal to run. */
const OSC52 = '\u001b]52;c;ZWNobyBwd25lZA==\u0007';
const CLEAR = '\u001b[2J\u001b[H';

/**
 * What a terminal acts on, or shows as nothing: C0 controls, DEL, C1 controls, the line separators and
 * the format characters (bidirectional controls, zero-width characters). The CLI itself emits line feeds between lines, and tabs pass where it prints multi-line text
 * as it is (a policy set keeps its indentation): a tab moves to the next tab stop and overwrites nothing.
 */
const ACTS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\p{Cf}]/u;

const REQ = `req_${'A'.repeat(12)}`;
const PROP = `prop_${'A'.repeat(12)}`;

/** The server's answers, every text in them taken from `t`. */
function answers(t: (n: number) => string): Map<string, [number, unknown]> {
  const verdict = { approver: t(20), verdict: 'approve', counts: true, comment: t(21), at: t(22) };
  const request = {
    id: REQ,
    kind: 'access',
    requester: { id: t(0), org: t(1), role: t(2) },
    scope: { subjects: [t(3)], collections: [t(4)], fields: [t(5)] },
    reaches: [t(6)],
    purpose: t(7),
    justification: { code: t(8), text: t(9) },
    duration_seconds: 3600,
    digest: t(10),
    created_at: t(11),
    expires_at: t(12),
    status: 'pending',
    decided_at: null,
    grant: null,
    approvals: [verdict],
    quorum: { k: 2, met: false, missing: t(13) },
  };
  const grant = { id: t(14), request: REQ, principal: t(0), scope: request.scope, purpose: t(7), breakglass: false, created_at: t(11), expires_at: t(12), revoked_at: null, revoked_by: t(15), state: 'revoked' };
  const record = { collection: t(16), id: t(17), subject: t(18), version: 1, data: { username: t(19), email: t(23), bio: t(24) }, withheld: [t(25)], created_at: t(11), updated_at: t(12) };
  const policy = { version: 1, digest: t(10), proposal: t(26), approvers: [t(20)], activated_at: t(11), text: t(27) };
  const proposal = {
    id: PROP,
    kind: 'policy',
    proposer: { id: t(0), org: t(1), role: t(2) },
    policy: { text: t(27), description: t(28), diff: { base_version: 1, active_version: 1, added: [t(29)], removed: [t(30)], changed: [], text: t(31) } },
    digest: t(10),
    created_at: t(11),
    expires_at: t(12),
    status: 'pending',
    decided_at: null,
    outcome: t(32),
    approvals: [verdict],
    quorum: { k: 2, met: false, missing: t(13) },
  };
  const token = { id: t(33), principal: t(0), org: t(1), role: t(2), label: t(34), state: 'active', created_at: t(11), expires_at: t(12), revoked_at: null };
  const subject = { id: t(18), country: t(35), jurisdiction: t(36), site: t(37), erased: true, created_at: t(11), erased_at: t(12) };
  return new Map<string, [number, unknown]>([
    ['GET /v1/collections/users/records/u-1', [200, record]],
    ['GET /v1/collections/users/records/u-2', [403, { error: { code: 'forbidden', message: t(38) } }]],
    ['GET /v1/subjects/u-1/records', [200, { records: [record], next: null }]],
    ['GET /v1/subjects/u-1', [200, subject]],
    [`GET /v1/access/requests/${REQ}`, [200, request]],
    [`POST /v1/access/requests/${REQ}/approve`, [200, request]],
    ['GET /v1/access/requests', [200, { requests: [request] }]],
    ['GET /v1/access/grants', [200, { grants: [grant] }]],
    ['GET /v1/tokens', [200, { tokens: [token] }]],
    ['GET /v1/policies', [200, { active: policy, invariants: t(39), versions: [policy] }]],
    [`GET /v1/proposals/${PROP}`, [200, proposal]],
  ]);
}

const COMMANDS: readonly (readonly string[])[] = [
  ['record', 'get', 'users', 'u-1'],
  ['record', 'get', 'users', 'u-2'],
  ['record', 'list', 'u-1'],
  ['subject', 'show', 'u-1'],
  ['access', 'show', REQ],
  ['access', 'approve', REQ],
  ['access', 'list'],
  ['access', 'list', '--grants'],
  ['token', 'list'],
  ['policy', 'show'],
  ['policy', 'show', '--proposal', PROP],
];

let server: Server;
let base = '';
let routes = answers(() => 'x');

before(async () => {
  server = createServer((req, res) => {
    req.resume();
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const [status, body] = routes.get(`${req.method ?? 'GET'} ${path}`) ?? [404, { error: { code: 'not_found', message: `no route ${path}` } }];
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function cli(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await runCli([...args, '--server', base, '--token', 'enc_test'], io);
  await new Promise((r) => setImmediate(r));
  return { code, out: io.out(), err: io.err() };
}

/** Fails naming the first line that holds a character a terminal acts on. */
function assertInert(text: string, what: string): void {
  const bad = text.split('\n').find((l) => ACTS.test(l));
  assert.equal(bad, undefined, `${what}: a line reaches the terminal with a control character: ${JSON.stringify(bad)}`);
}

describe('text from the server', () => {
  it('a record field holding an OSC 52 clipboard write is printed escaped, and --json keeps it exactly', async () => {
    routes = answers((n) => (n === 23 ? OSC52 : n === 24 ? `line one\r${CLEAR}\nline two` : `v${n}`));
    const shown = await cli(['record', 'get', 'users', 'u-1']);
    assert.equal(shown.code, 0, shown.err);
    assertInert(shown.out, 'record get');
    assert.match(shown.out, /email +\\u001b\]52;c;ZWNobyBwd25lZA==\\u0007$/m);
    // A field is one cell: its own line break is escaped too, so it cannot start a line of its own.
    assert.match(shown.out, /bio +line one\\u000d\\u001b\[2J\\u001b\[H\\u000aline two$/m);

    const json = await cli(['record', 'get', 'users', 'u-1', '--json']);
    assert.equal(json.code, 0, json.err);
    assertInert(json.out, 'record get --json');
    const parsed = JSON.parse(json.out) as { data: Record<string, string> };
    assert.equal(parsed.data['email'], OSC52, 'the JSON means what the server sent');
  });

  it('text hidden by format characters (a zero-width space, a soft hyphen, a word joiner, a tag character) is shown escaped; --json means the same', async () => {
    const hidden = 'ann\u200b\u00ad\u2060\u{e0041}';
    routes = answers((n) => (n === 23 ? hidden : `v${n}`));
    const shown = await cli(['record', 'get', 'users', 'u-1']);
    assert.equal(shown.code, 0, shown.err);
    assertInert(shown.out, 'record get');
    assert.match(shown.out, /email +ann\\u200b\\u00ad\\u2060\\udb40\\udc41$/m);
    const json = await cli(['record', 'get', 'users', 'u-1', '--json']);
    assertInert(json.out, 'record get --json');
    assert.equal((JSON.parse(json.out) as { data: Record<string, string> }).data['email'], hidden);
  });

  it('an error message relayed from the API is one escaped line', async () => {
    routes = answers((n) => (n === 38 ? `denied${CLEAR}\rall good\u202e\u009b31m${OSC52}` : `v${n}`));
    const r = await cli(['record', 'get', 'users', 'u-2']);
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    assertInert(r.err, 'error line');
    assert.equal(r.err.split('\n').length, 2, r.err);
    assert.match(r.err, /^enclave: forbidden: denied\\u001b\[2J\\u001b\[H all good\\u202e\\u009b31m\\u001b\]52;c;ZWNobyBwd25lZA==\\u0007\n$/);
  });

  it("an access request's justification with ESC is escaped, both where it is reviewed (stderr) and where it is shown", async () => {
    routes = answers((n) => (n === 9 ? `ticket 4711${CLEAR}approved by everyone\r` : `v${n}`));
    const shown = await cli(['access', 'show', REQ]);
    assert.equal(shown.code, 0, shown.err);
    assertInert(shown.out, 'access show');
    assert.match(shown.out, /justification +v8: ticket 4711\\u001b\[2J\\u001b\[Happroved by everyone\\u000d$/m);
    const approved = await cli(['access', 'approve', REQ]);
    assert.equal(approved.code, 0, approved.err);
    assertInert(approved.err, 'access approve: the request under review');
    assert.match(approved.err, /justification +v8: ticket 4711\\u001b\[2J/);
  });

  it('a policy set keeps its lines and indentation; only what a terminal acts on is escaped', async () => {
    const text = '@id("a")\npermit (\n\tprincipal,\r\n  action,\n  resource\n);\n// \u001b]0;title\u0007';
    routes = answers((n) => (n === 27 ? text : `v${n}`));
    const r = await cli(['policy', 'show']);
    assert.equal(r.code, 0, r.err);
    assertInert(r.out, 'policy show');
    assert.equal(r.out, '@id("a")\npermit (\n\tprincipal,\n  action,\n  resource\n);\n// \\u001b]0;title\\u0007\n');
  });

  it('no line any command prints holds a control character but those the CLI writes itself (property)', async () => {
    // Mostly the characters that matter, among ordinary ones.
    const unit = fc.oneof(
      fc.integer({ min: 0, max: 0x9f }).map((c) => String.fromCharCode(c)),
      fc.constantFrom('\u001b[', '\u001b]52;c;', '\u009b', '\u2028', '\u2029', '\u202e', '\u2066', '\r\n', 'é', '字', '😀'),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ unit, maxLength: 12 }), { minLength: 40, maxLength: 40 }), async (texts) => {
        routes = answers((n) => texts[n] ?? '');
        for (const args of COMMANDS) {
          const human = await cli(args);
          assertInert(human.out, `${args.join(' ')}: stdout`);
          assertInert(human.err, `${args.join(' ')}: stderr`);
          if (human.code !== 0) assert.equal(human.err.split('\n').length, 2, `${args.join(' ')}: one error line`);
          const json = await cli([...args, '--json']);
          assertInert(json.out, `${args.join(' ')} --json: stdout`);
          assertInert(json.err, `${args.join(' ')} --json: stderr`);
          if (json.code === 0) assert.doesNotThrow(() => JSON.parse(json.out), `${args.join(' ')} --json prints valid JSON`);
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe('text from a legacy source', () => {
  const verification = (table: string, key: string, detail: string): [VerificationInfo, { table: string; key: string; kind: 'changed'; detail: string }[]] => [
    { id: 'ver-1', migration: 'm', pass: 1, startedAt: 0, finishedAt: 0, ok: false, tables: [{ table, collection: 'c', rows: 1, erased: 0, records: 1, sourceRoot: 'a'.repeat(64), destinationRoot: 'b'.repeat(64), mismatches: 1 }], root: 'c'.repeat(64), mismatches: 1 },
    [{ table, key, kind: 'changed', detail }],
  ];

  it('table and key names in a mismatch list and a plan are printed escaped (property)', () => {
    const unit = fc.oneof(fc.integer({ min: 0, max: 0x9f }).map((c) => String.fromCharCode(c)), fc.constantFrom('\u001b]52;c;', '\u202e', 'a'));
    fc.assert(
      fc.property(fc.string({ unit }), fc.string({ unit }), fc.string({ unit }), (table, key, detail) => {
        let out = '';
        const stdout = { write: (s: string) => ((out += s), true) };
        const io = { ...memoryIo(), stdout } as unknown as Io;
        const [v, mismatches] = verification(table, key, detail);
        new Output(io).result(v, (x) => describeVerification(x, mismatches));
        const plan: MigrationPlan = { migration: 'm', source: 'sqlite:x.db', tables: [], unmapped: [table, key], purgeRefused: detail };
        new Output(io).result(plan, describePlan);
        assertInert(out, 'migrate verify / plan');
        assert.ok(out.includes('Mismatches (table, key, kind, detail):'));
      }),
    );
  });
});
