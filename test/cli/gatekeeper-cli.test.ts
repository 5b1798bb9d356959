// The gatekeeper's commands (access, break-glass, policy, token) run in-process against a real server on
// a free port: what a person at the terminal does and sees, end to end.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../src/cli/program.ts';
import { startServer, type RunningServer } from '../../src/cli/serve-runner.ts';
import { DEFAULT_POLICIES } from '../../src/core/default-policies.ts';
import { makeFixture, type Fixture, type RoleName } from '../helpers/fixture.ts';
import { memoryIo } from './helpers.ts';

const SECRET = 'cli-secret-body-3c9e';

describe('enclave access, break-glass, policy and token', () => {
  let fx: Fixture;
  let server: RunningServer;
  let bob: string;

  async function cli(who: string, args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
    const io = memoryIo();
    const token = who in fx.tokens ? fx.tokens[who as RoleName] : who;
    const code = await runCli([...args, '--server', server.url, '--token', token], io);
    await new Promise((r) => setImmediate(r));
    return { code, out: io.out(), err: io.err() };
  }
  const ok = async (who: string, args: readonly string[]) => {
    const r = await cli(who, args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
    return r;
  };

  before(async () => {
    fx = await makeFixture();
    server = await startServer(fx.enclave, { host: '127.0.0.1', port: 0, logLevel: 'silent' });
    bob = (await fx.enclave.tokens.issue({ principal: 'bob', org: 'gatekeeper', role: 'officer' })).secret;
    const svc = { ...fx.principals.service };
    await fx.enclave.vault.registerSubject(svc, { id: 'ann', country: 'US' });
    await fx.enclave.vault.createRecord(svc, 'messages', { id: 'ann-msg', data: { sender_id: 'ann', recipient_id: 'bo', body: SECRET, sent_at: '2026-01-01T00:00:00Z' } });
  });
  after(async () => {
    await server.close();
    await fx.close();
  });

  it('access request → two approvals → a read under the grant → revoke', async () => {
    const req = await ok('officer', ['access', 'request', '--subject', 'ann', '--collection', 'messages', '--purpose', 'support', '--code', 'support-ticket', '--reason', 'ticket 4711: the user reports missing messages', '--duration', '2h', '--json']);
    const r = JSON.parse(req.out) as { id: string; status: string; duration_seconds: number };
    assert.equal(r.status, 'pending');
    assert.equal(r.duration_seconds, 7200);

    const mine = await cli('officer', ['access', 'approve', r.id]);
    assert.equal(mine.code, 1);
    assert.match(mine.err, /^enclave: self_approval: /m);

    const first = await ok('approver', ['access', 'approve', r.id]);
    assert.match(first.err, /^reviewed:\nreq_/, 'the approver is shown what they approved');
    assert.match(first.out, new RegExp(`^${r.id}: pending \\(needs 1 more approval from gatekeepers or monitors; at least 1 from monitors\\)`));
    const second = await ok('provider', ['access', 'approve', r.id, '--comment', 'checked the ticket']);
    const grant = /grant (gr_\S+)/.exec(second.out)?.[1];
    assert.ok(grant, second.out);

    const withheld = await ok('officer', ['record', 'get', 'messages', 'ann-msg']);
    assert.match(withheld.out, /withheld: recipient_id, body, sent_at/);
    const read = await ok('officer', ['record', 'get', 'messages', 'ann-msg', '--purpose', 'support', '--json']);
    assert.equal((JSON.parse(read.out) as { data: { body: string }; grant: { id: string } }).grant.id, grant);

    const listed = await ok('provider', ['access', 'list', '--grants']);
    assert.match(listed.out, new RegExp(`^${grant}  active  officer-1`, 'm'));
    await ok('officer', ['access', 'revoke', grant]);
    assert.match((await ok('officer', ['record', 'get', 'messages', 'ann-msg', '--purpose', 'support'])).out, /withheld/);
    assert.match((await ok('officer', ['access', 'show', r.id])).out, /^ {2}digest +sha256:/m);
  });

  it('access request without a purpose, or with a thin reason, is refused with one line', async () => {
    const none = await cli('officer', ['access', 'request', '--subject', 'ann', '--code', 'support-ticket', '--reason', 'ticket 4711: the user reports missing messages']);
    assert.equal(none.code, 2);
    assert.match(none.err, /state the purpose/);
    const thin = await cli('officer', ['access', 'request', '--subject', 'ann', '--purpose', 'support', '--code', 'support-ticket', '--reason', '.']);
    assert.equal(thin.code, 1);
    assert.match(thin.err, /^enclave: invalid_justification: /);
    const long = await cli('officer', ['access', 'request', '--subject', 'ann', '--purpose', 'support', '--code', 'support-ticket', '--reason', 'ticket 4711: the user reports missing messages', '--duration', 'a while']);
    assert.equal(long.code, 2);
    assert.match(long.err, /expected a duration such as 90s/);
  });

  it('break-glass open, list, review', async () => {
    const opened = await ok('officer', ['break-glass', 'open', '--subject', 'ann', '--purpose', 'security', '--code', 'security-incident', '--reason', 'account takeover in progress, tracing the attacker', '--duration', '10m', '--json']);
    assert.match(opened.err, /BREAK-GLASS: grant gr_\S+ is open/);
    const bg = JSON.parse(opened.out) as { id: string };
    assert.match((await ok('provider', ['break-glass', 'list'])).out, /BREAK-GLASS, review: awaiting-review/);
    const reviewed = await ok('provider', ['break-glass', 'review', bg.id, '--unjustified']);
    assert.equal(reviewed.out, `${bg.id}: review unjustified\n`);
  });

  it('break-glass open past its limits is refused with one line and exit 1', async () => {
    const args = ['--purpose', 'security', '--code', 'security-incident', '--reason', 'account takeover in progress, tracing the attacker', '--duration', '10m'];
    const whole = await cli('officer', ['break-glass', 'open', '--collection', 'messages', ...args]);
    assert.equal(whole.code, 1);
    assert.match(whole.err, /^enclave: invalid_scope: break-glass must name its subjects, at most 10 \(gatekeeper\.break_glass\.max_subjects\).*file an access request.*\n$/);
    assert.equal(whole.err.split('\n').length, 2, 'one line');

    const opened = await ok('officer', ['break-glass', 'open', '--subject', 'ann', ...args, '--json']);
    const grant = (JSON.parse(opened.out) as { grant: string }).grant;
    const second = await cli('officer', ['break-glass', 'open', '--subject', 'ann', ...args]);
    assert.equal(second.code, 1);
    assert.match(second.err, new RegExp(`^enclave: breakglass_limit: 1 break-glass grant is open for you \\(${grant}\\).*enclave access revoke ${grant}.*\\n$`));
    assert.equal(second.err.split('\n').length, 2, 'one line');
    await ok('officer', ['access', 'revoke', grant]);
  });

  it('--duration: the default its help shows is a value the option takes, and is what a request without it gets', async () => {
    const reason = ['--code', 'security-incident', '--reason', 'account takeover in progress, tracing the attacker'];
    for (const [command, purpose, seconds] of [[['access', 'request'], 'support', 3600], [['break-glass', 'open'], 'security', 900]] as const) {
      const io = memoryIo();
      assert.equal(await runCli([...command, '--help'], io), 0);
      const option = /--duration <duration>([\s\S]*?)\n {2}-/.exec(io.out())?.[1]?.replace(/\s+/g, ' ') ?? '';
      const shown = /\(default: ([^)]+)\)/.exec(option)?.[1];
      assert.ok(shown, `${command.join(' ')} --help shows a default for --duration: ${option}`);
      for (const duration of [[], ['--duration', shown]]) {
        const r = await ok('officer', [...command, '--subject', 'ann', '--purpose', purpose, ...reason, ...duration, '--json']);
        const made = JSON.parse(r.out) as { duration_seconds: number; grant: string | null };
        assert.equal(made.duration_seconds, seconds, `${command.join(' ')} ${duration.join(' ')}`);
        if (made.grant !== null) await ok('officer', ['access', 'revoke', made.grant]);
      }
    }
  });

  it('policy propose (refused with diagnostics), propose, approve twice, show', async () => {
    const bad = join(fx.dir, 'bad.cedar');
    writeFileSync(bad, '@id("x") permit (principal, action == Enclave::Action::"record.reaad", resource);');
    const refused = await cli('officer', ['policy', 'propose', '--file', bad]);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /^enclave: policy_invalid: .*unrecognized action `Enclave::Action::"record\.reaad"`; did you mean/);

    const file = join(fx.dir, 'next.cedar');
    writeFileSync(file, `${DEFAULT_POLICIES}\n// reviewed 2026-05\n`);
    const proposed = await ok('officer', ['policy', 'propose', '--file', file, '--description', 'a comment']);
    const id = /^(prop_\S+)/.exec(proposed.out)?.[1];
    assert.ok(id, proposed.out);
    assert.match(proposed.out, /^\+\/\/ reviewed 2026-05$/m, 'the diff is shown');
    assert.match((await ok('approver', ['policy', 'approve', id])).out, /pending/);
    assert.match((await ok(bob, ['policy', 'approve', id])).out, /applied \(activated as policy version 2\)/);
    const shown = await ok('regulator', ['policy', 'show']);
    assert.match(shown.out, /\/\/ reviewed 2026-05/);
    assert.match(shown.err, /active: version 2/);
    assert.match((await ok('regulator', ['policy', 'show', '--schema'])).out, /namespace Enclave/);
    assert.match((await ok('regulator', ['policy', 'show', '--invariants'])).out, /invariant\/parent-never-protected/);
    assert.equal((await ok('regulator', ['policy', 'show', '--policy-version', '1'])).out.trimEnd(), DEFAULT_POLICIES.trimEnd());
  });

  it('a refused approve or reject of a token or policy proposal prints only its error line; a verdict given shows what it was given on', async () => {
    const created = await ok('officer', ['token', 'create', '--principal', 'nightly', '--org', 'regulator', '--role', 'auditor']);
    const token = /^proposal +(prop_\S+)$/m.exec(created.out)?.[1];
    const file = join(fx.dir, 'refused-verdicts.cedar');
    writeFileSync(file, `${DEFAULT_POLICIES}\n// refused verdicts\n`);
    const policy = /^(prop_\S+)/.exec((await ok('officer', ['policy', 'propose', '--file', file])).out)?.[1];
    assert.ok(token && policy, created.out);
    for (const [group, id] of [['token', token], ['policy', policy]] as const) {
      for (const verdict of ['approve', 'reject']) {
        // The proposer never counts: refused by the server after the proposal was fetched.
        const r = await cli('officer', [group, verdict, id]);
        assert.equal(r.code, 1, `${group} ${verdict}: ${r.err}`);
        assert.equal(r.out, '');
        assert.equal(r.err.split('\n').length, 2, `${group} ${verdict}: one line on stderr, got:\n${r.err}`);
        assert.match(r.err, /^enclave: [a-z_]+: /);
      }
    }
    const given = await ok('approver', ['token', 'reject', token]);
    assert.match(given.out, new RegExp(`^${token}: rejected`));
    assert.match(given.err, new RegExp(`^reviewed:\\n${token}  token\\.issue  rejected .*\\n(.*\\n)* {2}digest +sha256:`), 'the proposal the verdict was given on, once given');
    await ok('approver', ['policy', 'reject', policy]);
  });

  it('token create proposes; the secret works after two approvals; list, rotate and revoke', async () => {
    const created = await ok('officer', ['token', 'create', '--principal', 'reporting', '--org', 'regulator', '--role', 'auditor']);
    const secret = /^secret +(enc_\S+)$/m.exec(created.out)?.[1];
    const proposal = /^proposal +(prop_\S+)$/m.exec(created.out)?.[1];
    assert.ok(secret && proposal, created.out);
    assert.match((await cli(secret, ['policy', 'show'])).err, /^enclave: unauthenticated/m);
    await ok('approver', ['token', 'approve', proposal]);
    await ok(bob, ['token', 'approve', proposal]);
    await ok(secret, ['policy', 'show']);
    assert.match((await ok('officer', ['token', 'list'])).out, /reporting +regulator\/auditor +active/);
    // Its holder rotates the token the proposer saw: that copy stops working, the new one is theirs alone.
    const proposed = /^token +(tok_\S+)$/m.exec(created.out)?.[1] ?? '';
    const rotated = await ok(secret, ['token', 'rotate']);
    const fresh = /^secret +(enc_\S+)$/m.exec(rotated.out)?.[1];
    const tokenId = /^token +(tok_\S+)$/m.exec(rotated.out)?.[1] ?? '';
    assert.ok(fresh && tokenId && tokenId !== proposed, rotated.out);
    assert.match(rotated.out, new RegExp(`^${proposed} is revoked\\.`, 'm'));
    assert.match((await cli(secret, ['policy', 'show'])).err, /^enclave: unauthenticated/m);
    assert.equal((await ok(fresh, ['token', 'revoke', tokenId])).out, `revoked ${tokenId}\n`, 'one\'s own token, at once');
  });
});
