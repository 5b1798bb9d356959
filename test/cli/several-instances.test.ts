// Issue 6, point 3, with real processes: three `enclave serve` instances on one PostgreSQL database (the
// control store, both home sites and the transparency log). A write through one is read through the
// others; a token revoked through one is refused by it at once and by the others within the
// shared-state refresh (about a second); an erasure through one is seen by all; a grant approved
// through two of them, then revoked through the third, holds and ends on every instance within the
// shared-state refresh.
// Then, under load from several clients spread over the three, the log's sequencer is SIGKILLed: another
// instance takes over within seconds, every receipt a client was given is in the log, and the log
// verifies from outside (the verifier library, and `enclave log verify`).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeUtf8 } from '../../src/core/tlog/encoding.ts';
import { loadConfig } from '../../src/services/config-loader.ts';
import { openEnclave } from '../../src/services/enclave.ts';
import { CONFIG_FILE, initEnclave } from '../../src/services/init-service.ts';
import { verifyLog } from '../../src/services/log-verifier.ts';
import { starterConfig } from '../../src/services/starter-config.ts';
import { freshSchema, dropSchemas, postgresConfig, postgresSkip } from '../helpers/postgres.ts';
import { killAll, removeDir, run, startListening, tempDir, type LongRunning } from './helpers.ts';

const skip = await postgresSkip();
const NAMES = ['api-1', 'api-2', 'api-3'] as const;
/** What docs/deployment.md promises for a killed sequencer: the next poll (one checkpoint interval, 1 s) takes over. */
const TAKEOVER_BOUND_MS = 5000;
/** What docs/deployment.md promises for grants changed through another instance: the next refresh (1 s). */
const GRANT_BOUND_MS = 3000;
/** The same for a token revoked through another instance: each trusts a token it read for one refresh interval. */
const TOKEN_BOUND_MS = 3000;
const SERVICE_PURPOSE = 'account';

interface Health {
  instance: string;
  sequencer: boolean;
  log_sequencer: { instance: string; held: boolean } | null;
}

void describe('three serve processes on one PostgreSQL database', { skip, timeout: 240_000 }, () => {
  const schemas = { control: freshSchema('multi_control'), us: freshSchema('multi_us'), eu: freshSchema('multi_eu'), log: freshSchema('multi_log') };
  let dir: string;
  let config: string;
  const servers = new Map<string, LongRunning>();
  const tokens: Record<'service' | 'officer' | 'approver' | 'monitor' | 'regulator', string> = { service: '', officer: '', approver: '', monitor: '', regulator: '' };
  let temp: { id: string; secret: string };

  const url = (name: string): string => servers.get(name)?.url ?? '';
  async function call(name: string, token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    // Platform services act only for a configured purpose (the gatekeeper's service_purposes).
    const purpose = token === tokens.service || token === temp.secret ? { 'enclave-purpose': SERVICE_PURPOSE } : {};
    return fetch(`${url(name)}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...purpose, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000),
    });
  }
  const health = async (name: string): Promise<Health> => (await (await fetch(`${url(name)}/healthz`, { signal: AbortSignal.timeout(5000) })).json()) as Health;

  before(async () => {
    dir = tempDir('enclave-multi-');
    // Small pools: three instances (and the other test files) share the server's 100 connections.
    writeFileSync(join(dir, CONFIG_FILE), postgresConfig(starterConfig(), schemas, { pool_size: '3' }));
    config = (await initEnclave(dir, { dev: true })).configPath;
    const setup = await openEnclave(loadConfig(config));
    try {
      tokens.service = (await setup.tokens.issue({ principal: 'app', org: 'platform', role: 'service' })).secret;
      tokens.officer = (await setup.tokens.issue({ principal: 'alice', org: 'gatekeeper', role: 'officer' })).secret;
      tokens.approver = (await setup.tokens.issue({ principal: 'dana', org: 'gatekeeper', role: 'approver' })).secret;
      tokens.monitor = (await setup.tokens.issue({ principal: 'mo', org: 'trusted-provider', role: 'monitor' })).secret;
      tokens.regulator = (await setup.tokens.issue({ principal: 'reg', org: 'regulator', role: 'auditor' })).secret;
      temp = await setup.tokens.issue({ principal: 'temp', org: 'platform', role: 'service' });
    } finally {
      await setup.close();
    }
    const started = await Promise.all(
      NAMES.map((name) => startListening(['serve', '--config', config, '--port', '0', '--dev-unseal', '--instance', name, '--log-level', 'warn'], { timeoutMs: 90_000 })),
    );
    started.forEach((s, i) => servers.set(NAMES[i] as string, s));
  });

  after(async () => {
    await Promise.all([...servers.values()].map((s) => s.stop()));
    killAll();
    removeDir(dir);
    await dropSchemas(...Object.values(schemas));
  });

  it('a write through one instance is read through the others; a stale version is refused everywhere', async () => {
    assert.equal((await call('api-1', tokens.service, 'POST', '/v1/subjects', { id: 'ann', country: 'US' })).status, 201);
    const w = await call('api-1', tokens.service, 'POST', '/v1/collections/users/records', { id: 'ann-p', data: { user_id: 'ann', username: 'ann', email: 'ann@example.test' } });
    assert.equal(w.status, 201, await w.text());
    const v1 = w.headers.get('etag') ?? '';
    for (const name of ['api-2', 'api-3']) {
      const r = await call(name, tokens.service, 'GET', '/v1/collections/users/records/ann-p');
      assert.equal(r.status, 200);
      assert.deepEqual(((await r.json()) as { data: unknown }).data, { user_id: 'ann', username: 'ann', email: 'ann@example.test' }, name);
    }
    const put = await call('api-2', tokens.service, 'PUT', '/v1/collections/users/records/ann-p', { data: { user_id: 'ann', username: 'ann2', email: 'ann2@example.test' } }, { 'if-match': v1 });
    assert.equal(put.status, 200, await put.text());
    const read = (await (await call('api-3', tokens.service, 'GET', '/v1/collections/users/records/ann-p')).json()) as { version: number; data: { email: string } };
    assert.deepEqual([read.version, read.data.email], [2, 'ann2@example.test']);
    const stale = await call('api-1', tokens.service, 'PUT', '/v1/collections/users/records/ann-p', { data: { user_id: 'ann', username: 'x', email: 'x@example.test' } }, { 'if-match': v1 });
    assert.equal(stale.status, 412);
    assert.equal(((await stale.json()) as { error: { code: string } }).error.code, 'version_conflict');
  });

  it('a token revoked through one instance is refused by it at once, and by the others within about a second', async (t) => {
    // Every instance has just authenticated (and cached) the token.
    for (const name of NAMES) assert.equal((await call(name, temp.secret, 'GET', '/v1/whoami')).status, 200, name);
    const revoke = await call('api-2', temp.secret, 'POST', `/v1/tokens/${temp.id}/revoke`);
    assert.equal(revoke.status, 200, await revoke.text());
    const t0 = Date.now();
    assert.equal((await call('api-2', temp.secret, 'GET', '/v1/whoami')).status, 401, 'api-2 revoked it');
    for (;;) {
      const statuses = await Promise.all(NAMES.map(async (name) => (await call(name, temp.secret, 'GET', '/v1/whoami')).status));
      if (statuses.every((s) => s === 401)) break;
      assert.ok(Date.now() - t0 < TOKEN_BOUND_MS, `after ${Date.now() - t0} ms: ${JSON.stringify(statuses)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    t.diagnostic(`token refused everywhere after ${Date.now() - t0} ms`);
  });

  it('a grant approved through two instances and revoked through the third holds, then ends, on all within about a second', async (t) => {
    const support = { 'enclave-purpose': 'support' };
    const released = async (name: string): Promise<boolean> => {
      const res = await call(name, tokens.officer, 'GET', '/v1/collections/users/records/ann-p', undefined, support);
      assert.equal(res.status, 200);
      return !((await res.json()) as { withheld: string[] }).withheld.includes('email');
    };
    /** Milliseconds until every instance answers `want`; fails beyond the bound. */
    const everywhere = async (want: boolean): Promise<number> => {
      const t0 = Date.now();
      for (;;) {
        const now = await Promise.all(NAMES.map(released));
        if (now.every((r) => r === want)) return Date.now() - t0;
        assert.ok(Date.now() - t0 < GRANT_BOUND_MS, `after ${Date.now() - t0} ms: ${JSON.stringify(now)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    assert.deepEqual(await Promise.all(NAMES.map(released)), [false, false, false], 'no grant yet: redacted everywhere');
    const req = (await (
      await call('api-1', tokens.officer, 'POST', '/v1/access/requests', {
        scope: { subjects: ['ann'], collections: ['users'] },
        purpose: 'support',
        justification: { code: 'support-ticket', text: 'ticket 4711: the user cannot log in to their account' },
        duration_seconds: 3600,
      })
    ).json()) as { id: string; digest: string };
    assert.equal((await call('api-2', tokens.approver, 'POST', `/v1/access/requests/${req.id}/approve`, { digest: req.digest })).status, 200);
    const done = (await (await call('api-3', tokens.monitor, 'POST', `/v1/access/requests/${req.id}/approve`, { digest: req.digest })).json()) as { status: string; grant: string };
    assert.equal(done.status, 'approved');
    const granted = await everywhere(true);
    assert.equal((await call('api-1', tokens.officer, 'POST', `/v1/access/grants/${done.grant}/revoke`)).status, 200);
    const revoked = await everywhere(false);
    t.diagnostic(`grant honoured everywhere after ${granted} ms, revocation after ${revoked} ms`);
  });

  it('an erasure through one instance is seen by the others, which had the subject\'s key cached', async () => {
    assert.equal((await call('api-3', tokens.service, 'POST', '/v1/subjects', { id: 'bea', country: 'DE' })).status, 201);
    assert.equal((await call('api-3', tokens.service, 'POST', '/v1/collections/users/records', { id: 'bea-p', data: { user_id: 'bea', username: 'bea', email: 'bea@example.test' } })).status, 201);
    for (const name of NAMES) assert.equal((await call(name, tokens.service, 'GET', '/v1/collections/users/records/bea-p')).status, 200, name);
    assert.equal((await call('api-2', tokens.officer, 'DELETE', '/v1/subjects/bea')).status, 200);
    for (const name of NAMES) assert.equal((await call(name, tokens.service, 'GET', '/v1/collections/users/records/bea-p')).status, 410, name);
  });

  it('SIGKILL of the sequencer under load: another takes over within seconds, no acknowledged entry is lost, the log verifies', async (t) => {
    // Exactly one sequencer, and every instance names the same one.
    let views: Health[] = [];
    for (let i = 0; i < 50; i++) {
      views = await Promise.all(NAMES.map(health));
      if (views.filter((h) => h.sequencer).length === 1) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const leaders = views.filter((h) => h.sequencer);
    assert.equal(leaders.length, 1, JSON.stringify(views));
    const victim = leaders[0]?.instance ?? '';
    for (const v of views) assert.equal(v.log_sequencer?.instance, victim);

    // Load: six clients, each spreading writes and reads over the live instances. A receipt counts as
    // acknowledged only with a 2xx response in hand.
    const acked: { index: number; type: string; via: string; at: number }[] = [];
    const live = new Set<string>(NAMES);
    let stop = false;
    let seq = 0;
    const client = async (c: number) => {
      for (let i = 0; !stop; i++) {
        const names = [...live];
        const name = names[(c + i) % names.length] ?? 'api-1';
        const write = i % 2 === 0;
        try {
          const res = write
            ? await call(name, tokens.service, 'POST', '/v1/collections/messages/records', { id: `m-${c}-${seq++}`, data: { sender_id: 'ann', recipient_id: 'r-1', body: 'hi', sent_at: '2026-01-01T00:00:00Z' } })
            : await call(name, tokens.service, 'GET', '/v1/collections/users/records/ann-p');
          const header = res.headers.get('enclave-log-index');
          await res.arrayBuffer();
          if (res.ok && header !== null) {
            for (const index of header.split(',').map(Number)) acked.push({ index, type: write ? 'record.created' : 'access.decision', via: name, at: Date.now() });
          }
        } catch {
          // A connection to the killed instance fails: nothing was acknowledged; stop sending there.
          if (name === victim) live.delete(name);
        }
      }
    };
    const clients = Array.from({ length: 6 }, (_, c) => client(c));
    await new Promise((r) => setTimeout(r, 1500));
    const killedAt = Date.now();
    const ackedBeforeKill = acked.length;
    await servers.get(victim)?.stop('SIGKILL');
    live.delete(victim);
    servers.delete(victim);

    // Another instance takes the lease.
    const survivors = NAMES.filter((n) => n !== victim);
    let takeover: number | undefined;
    let successor = '';
    while (takeover === undefined && Date.now() - killedAt < 30_000) {
      const now = await Promise.all(survivors.map(health));
      const lead = now.find((h) => h.sequencer);
      if (lead) {
        takeover = Date.now() - killedAt;
        successor = lead.instance;
      } else await new Promise((r) => setTimeout(r, 100));
    }
    t.diagnostic(`sequencer ${victim} killed after ${ackedBeforeKill} acknowledged entries; ${successor} took over in ${String(takeover)} ms`);
    assert.ok(takeover !== undefined && takeover <= TAKEOVER_BOUND_MS, `takeover took ${String(takeover)} ms`);
    await new Promise((r) => setTimeout(r, 1500));
    stop = true;
    await Promise.all(clients);
    assert.ok(acked.some((a) => a.at > killedAt), 'the survivors kept acknowledging appends after the kill');

    // Wait until a checkpoint covers every acknowledged entry, then verify the log as an outsider would.
    const maxAcked = Math.max(...acked.map((a) => a.index));
    const reader = survivors[0] ?? '';
    const fetchLog = async (path: string): Promise<Uint8Array | undefined> => {
      const res = await call(reader, tokens.regulator, 'GET', `/log/${path}`);
      if (res.status === 404) return undefined;
      assert.equal(res.status, 200, path);
      return new Uint8Array(await res.arrayBuffer());
    };
    let size = 0;
    for (let i = 0; i < 100 && size <= maxAcked; i++) {
      const cp = await fetchLog('checkpoint');
      size = cp ? Number(decodeUtf8(cp, 'checkpoint').split('\n')[1]) : 0;
      if (size <= maxAcked) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(size > maxAcked, `the checkpoint (${size}) covers the last acknowledged entry (${maxAcked})`);
    const vkey = (await (await fetch(`${url(reader)}/log/vkey`)).text()).trim();
    const indexes = [...new Set(acked.map((a) => a.index))].sort((a, b) => a - b);
    assert.equal(indexes.length, acked.length, 'no index was given twice');
    const result = await verifyLog({ fetch: fetchLog, vkey, entries: indexes });
    assert.equal(result.entriesChecked, result.checkpoint.size, 'the whole tree was recomputed');
    const types = new Map(result.entries.map((e) => [e.index, (JSON.parse(decodeUtf8(e.entry, 'entry')) as { type: string }).type]));
    for (const a of acked) assert.equal(types.get(a.index), a.type, `entry ${a.index} (acknowledged by ${a.via}) is the ${a.type} it stands for`);

    // And the command an outside party runs agrees.
    const cli = await run(['log', 'verify', '--url', url(reader), '--vkey', vkey, '--entry', String(maxAcked)], { env: { ENCLAVE_TOKEN: tokens.regulator }, timeoutMs: 60_000 });
    assert.equal(cli.code, 0, cli.stderr);
  });
});
