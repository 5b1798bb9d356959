// `enclave demo`: seeds a development enclave with the synthetic population, writes the demo tokens, and
// serves an API in which the platform service reads protected fields and the parent company never does.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import { LEGACY_SITES, legacySiteOf } from '../../src/cli/demo/legacy-sites.ts';
import { Population } from '../../src/cli/demo/population.ts';
import { DEMO_PRINCIPALS } from '../../src/cli/demo/principals.ts';
import { loadConfig } from '../../src/services/config-loader.ts';
import { openEnclave } from '../../src/services/enclave.ts';
import { killAll, oneErrorLine, removeDir, run, startListening, suiteDir, tempDir, type LongRunning } from './helpers.ts';

interface DemoToken {
  readonly principal: string;
  readonly org: string;
  readonly role: string;
  readonly token: string;
}

describe('enclave demo --no-serve', () => {
  let root: string;
  let dir: string;
  let result: Awaited<ReturnType<typeof run>>;

  before(async () => {
    root = tempDir();
    dir = join(root, 'demo');
    result = await run(['demo', '--users', '200', '--seed', '11', '--no-serve', '--dir', dir]);
  });
  after(() => {
    killAll();
    removeDir(root);
  });

  it('exits 0 with a summary, the loud development warning and progress as JSON lines off a terminal', () => {
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /DEVELOPMENT MODE: auto-unsealed from \S*dev-unseal\.json; never use in production/);
    const progress = result.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { progress: string; done: number; total: number });
    const last = (task: string) => progress.filter((p) => p.progress === task).at(-1);
    assert.deepEqual(last('building the legacy sites'), { progress: 'building the legacy sites', done: 200, total: 200, unit: 'users' });
    for (const site of ['virginia', 'singapore']) {
      const p = last(`migrating ${site}`);
      assert.ok(p && p.done === p.total && p.total > 0, `progress of ${site}: ${JSON.stringify(p)}`);
    }
    assert.match(result.stdout, /Where the data lives now/);
    assert.match(result.stdout, /users outside every jurisdiction stay at the legacy sites, untouched \(equal digests before and after the purge\)/);
    assert.match(result.stdout, /^ {2}virginia +\d+ +[\d,]+ +[\d,]+ +[\d,]+ +[\d,]+ +[\d,]+ +dc-[0-9a-f]{24}$/m);
    assert.match(result.stdout, /curl -s -H 'Authorization: Bearer enc_/);
  });

  it('writes demo-tokens.json, readable by the owner only, with a token per demo principal', () => {
    const file = join(dir, 'data', 'demo-tokens.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const tokens = JSON.parse(readFileSync(file, 'utf8')) as DemoToken[];
    assert.deepEqual(
      tokens.map(({ principal, org, role }) => ({ principal, org, role })),
      DEMO_PRINCIPALS.map(({ principal, org, role }) => ({ principal, org, role })),
    );
    for (const t of tokens) {
      assert.match(t.token, /^enc_[A-Za-z0-9_-]{43}$/);
      assert.match(result.stdout, new RegExp(`^ {2}${t.principal} +${t.org}/${t.role} +.* ${t.token}$`, 'm'));
    }
    const orgs = new Set(tokens.map((t) => t.org));
    for (const org of ['gatekeeper', 'platform', 'parent', 'trusted-provider', 'regulator']) assert.ok(orgs.has(org), org);
  });

  it('stores exactly the US and EU users at their home sites, and no one else', async () => {
    const enclave = await openEnclave(loadConfig(join(dir, 'enclave.yaml')));
    try {
      const population = new Population(11, 200);
      const expected = { us: 0, eu: 0, outside: 0 };
      let usRecords = 0;
      for (let i = 0; i < population.size; i++) {
        const j = enclave.config.countryIndex.get(population.countryOf(i));
        if (j === 'us') {
          expected.us++;
          usRecords += population.user(i).records.length;
        } else if (j === 'eu') expected.eu++;
        else expected.outside++;
      }
      assert.ok(expected.us > 0 && expected.eu > 0 && expected.outside > 0, JSON.stringify(expected));
      assert.deepEqual([...enclave.sites.keys()].sort(), ['eu-central', 'trusted-us']);
      assert.equal(await enclave.sites.get('trusted-us')?.subjects.count(), expected.us);
      assert.equal(await enclave.sites.get('eu-central')?.subjects.count(), expected.eu);
      assert.equal(await enclave.sites.get('trusted-us')?.records.count(), usRecords);
      assert.match(result.stdout, new RegExp(`^ {2}${expected.outside} users outside every jurisdiction`, 'm'));
      assert.match(result.stdout, new RegExp(`^ {2}us +trusted-us +trusted-provider +${expected.us} +${usRecords.toLocaleString('en-US')}$`, 'm'));
    } finally {
      await enclave.close();
    }
  });

  it('migrated the US and EU users out of both legacy SQLite sites, left the others there, and certified each purge', async () => {
    const population = new Population(11, 200);
    const config = loadConfig(join(dir, 'enclave.yaml'));
    for (const site of LEGACY_SITES) {
      const db = new DatabaseSync(join(dir, 'data', 'legacy', `${site}.db`), { readOnly: true });
      try {
        const left = (db.prepare('SELECT user_uid FROM accounts ORDER BY id').all() as { user_uid: string }[]).map((r) => r.user_uid);
        const expected = Array.from({ length: population.size }, (_, i) => i)
          .filter((i) => legacySiteOf(i) === site && !config.countryIndex.has(population.countryOf(i)))
          .map((i) => population.userId(i));
        assert.deepEqual(left, expected, `${site} keeps exactly the users outside every jurisdiction`);
        const orphans = db.prepare('SELECT count(*) AS n FROM messages WHERE sender_account NOT IN (SELECT id FROM accounts)').get() as { n: number };
        assert.equal(orphans.n, 0, `no message of a migrated user remains at ${site}`);
      } finally {
        db.close();
      }
      const id = new RegExp(`^ {2}${site} .* (dc-[0-9a-f]{24})$`, 'm').exec(result.stdout)?.[1];
      assert.ok(id, `a certificate id is printed for ${site}`);
      const shown = await run(['migrate', 'certificate', id, '--config', join(dir, 'enclave.yaml')]);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, new RegExp(`source +sqlite:${site}\\.db \\(site ${site}\\)`));
      assert.match(shown.stdout, /✓ Ed25519 signature by enclave\/enclave-demo\/deletion-certificates/);
    }
  });

  it('runs again over its own directory, and refuses to wipe one it did not create', async () => {
    const again = await run(['demo', '--users', '20', '--no-serve', '--quiet', '--dir', dir, '--port', '0']);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /"progress"/, '--quiet: no progress');
    // Port 0 picks one when served: the examples say where to put it, not ":0".
    assert.match(again.stdout, /\(port 0: it prints the port it listens on; put that in place of <port> below\)/);
    assert.match(again.stdout, /http:\/\/127\.0\.0\.1:<port>\/v1\/collections\/users\/records\//);
    assert.doesNotMatch(again.stdout, /:0\//);

    const precious = join(root, 'precious');
    mkdirSync(precious);
    writeFileSync(join(precious, 'thesis.tex'), 'years of work');
    const refused = await run(['demo', '--users', '20', '--no-serve', '--dir', precious]);
    assert.equal(refused.code, 1);
    assert.match(oneErrorLine(refused).message, /refusing to wipe .*precious: it was not created by `enclave demo`/);
    assert.equal(readFileSync(join(precious, 'thesis.tex'), 'utf8'), 'years of work');
    assert.equal(existsSync(join(precious, 'enclave.yaml')), false);
  });

  it('a port in use fails at once, before anything is created or seeded', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    try {
      const port = String((blocker.address() as AddressInfo).port);
      const fresh = join(root, 'fresh');
      const r = await run(['demo', '--users', '20', '--port', port, '--dir', fresh]);
      assert.equal(r.code, 1);
      const e = oneErrorLine(r);
      assert.equal(e.code, 'listen_failed');
      assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${port}: the address is in use`));
      assert.equal(existsSync(fresh), false);
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });
});

describe('enclave demo (serving)', () => {
  let root: string;
  let demo: LongRunning;
  const tokens = new Map<string, string>();
  let subject: string;

  before(async () => {
    root = tempDir();
    demo = await startListening(['demo', '--users', '100', '--port', '0', '--dir', join(root, 'demo')]);
    for (const p of DEMO_PRINCIPALS) {
      const token = new RegExp(`^ {2}${p.principal} +\\S+ +.* (enc_\\S+)$`, 'm').exec(demo.stdout())?.[1];
      assert.ok(token, `no token printed for ${p.principal}`);
      tokens.set(p.principal, token);
    }
    subject = /\/v1\/collections\/users\/records\/(u\d+)/.exec(demo.stdout())?.[1] ?? '';
    assert.ok(subject, 'the curl examples name a subject');
  });
  after(async () => {
    await demo.stop('SIGINT');
    killAll();
    removeDir(root);
  });

  async function get(principal: string, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const purpose: Record<string, string> = principal === 'app' ? { 'enclave-purpose': 'account' } : {};
    const res = await fetch(demo.url + path, { headers: { authorization: `Bearer ${tokens.get(principal) ?? ''}`, ...purpose } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('runs with the heap limits `enclave serve` takes from the starter configuration', () => {
    const limit = Number(/Heap limit (\d+) MiB/.exec(demo.stdout())?.[1]);
    // The old generation's 128 MiB plus the young generation's share (8 MiB semi-spaces); unlimited, V8 sizes it from the machine.
    assert.ok(limit >= 128 && limit < 200, demo.stdout());
  });

  it('serves on the printed address, with curl examples for that address', () => {
    assert.match(demo.stdout(), new RegExp(`curl -s -H 'Authorization: Bearer enc_\\S+' -H 'Enclave-Purpose: account' ${demo.url.replace(/\./g, '\\.')}/v1/collections/users/records/${subject}`));
    assert.match(demo.stdout(), new RegExp(`ENCLAVE_SERVER=${demo.url.replace(/\./g, '\\.')} ENCLAVE_TOKEN=enc_\\S+ npx enclave access request --subject ${subject}`));
  });

  it('the platform service reads the protected email; the parent gets no protected value and the withheld list', async () => {
    const service = await get('app', `/v1/collections/users/records/${subject}`);
    assert.equal(service.status, 200);
    const serviceData = service.body.data as Record<string, unknown>;
    assert.match(String(serviceData.email), /@example\.(com|org|net)$/);
    assert.deepEqual(service.body.withheld, []);

    const parent = await get('parent', `/v1/collections/users/records/${subject}`);
    assert.equal(parent.status, 200);
    const parentData = parent.body.data as Record<string, unknown>;
    assert.equal(parentData.username, serviceData.username);
    for (const field of ['email', 'phone', 'birthdate']) assert.ok(!(field in parentData), `${field} reached the parent`);
    assert.deepEqual(parent.body.withheld, ['email', 'phone', 'birthdate']);
    assert.doesNotMatch(JSON.stringify(parent.body), new RegExp(String(serviceData.email).replace(/\./g, '\\.')));
  });

  it("the parent's read of private messages carries only public fields", async () => {
    const page = await get('parent', `/v1/subjects/${subject}/records?collection=messages`);
    assert.equal(page.status, 200);
    const records = page.body.records as { data: Record<string, unknown>; withheld: string[] }[];
    assert.ok(records.length > 0);
    for (const r of records) {
      assert.deepEqual(Object.keys(r.data), ['sender_id']);
      assert.deepEqual(r.withheld, ['recipient_id', 'body', 'sent_at']);
    }
  });

  it('registering a resident of a country in no jurisdiction is refused', async () => {
    const res = await fetch(`${demo.url}/v1/subjects`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.get('app') ?? ''}`, 'enclave-purpose': 'account', 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'newcomer-1', country: 'BR' }),
    });
    assert.equal(res.status, 422);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'no_jurisdiction');
  });

  it('the gatekeeper flow it prints works with the demo principals: alice asks, dana and the provider approve, alice reads', async () => {
    const call = async (principal: string, method: string, path: string, body?: unknown, purpose?: string) => {
      const headers: Record<string, string> = { authorization: `Bearer ${tokens.get(principal) ?? ''}`, ...(purpose ? { 'enclave-purpose': purpose } : {}) };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(demo.url + path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const justification = { code: 'support-ticket', text: 'ticket 4711: the user reports missing messages' };
    const asked = await call('alice', 'POST', '/v1/access/requests', { scope: { subjects: [subject], collections: ['messages'] }, purpose: 'support', justification, duration_seconds: 3600 });
    assert.equal(asked.status, 201, JSON.stringify(asked.body));
    const { id, digest } = asked.body as { id: string; digest: string };
    assert.equal((await call('dana', 'POST', `/v1/access/requests/${id}/approve`, { digest })).status, 200);
    const done = await call('provider', 'POST', `/v1/access/requests/${id}/approve`, { digest });
    assert.equal(done.body['status'], 'approved');
    const page = await call('alice', 'GET', `/v1/subjects/${subject}/records?collection=messages`, undefined, 'support');
    const records = page.body['records'] as { data: Record<string, unknown>; grant?: { id: string } }[];
    assert.ok(records.length > 0 && records.every((r) => typeof r.data['body'] === 'string' && r.grant?.id === done.body['grant']));
  });

  it('Ctrl-C stops it cleanly', async () => {
    assert.equal(await demo.stop('SIGINT'), 0);
    assert.match(demo.stderr(), /SIGINT: closing the server and the stores/);
  });
});

describe('enclave demo on every interface', () => {
  const EVERY_INTERFACE = /every network interface \(0\.0\.0\.0\): the API is reachable from other machines/;
  const root = suiteDir();

  /** Runs a small demo on `host`, stops it with Ctrl-C, and returns what it wrote on stderr and stdout. */
  async function demoOn(host: string): Promise<{ stderr: string; stdout: string }> {
    const demo = await startListening(['demo', '--users', '20', '--quiet', '--host', host, '--port', '0', '--dir', join(root(), host)]);
    assert.equal(await demo.stop('SIGINT'), 0);
    // Its last stderr line: all it wrote there before has arrived.
    for (let i = 0; i < 50 && !demo.stderr().includes('closing the server'); i++) await new Promise((r) => setTimeout(r, 100));
    return { stderr: demo.stderr(), stdout: demo.stdout() };
  }

  it('warns once on stderr, as serve does, that the API (and its printed tokens) is reachable from the network', async () => {
    const { stderr, stdout } = await demoOn('0.0.0.0');
    assert.equal(stderr.split('\n').filter((l) => EVERY_INTERFACE.test(l)).length, 1, stderr);
    assert.doesNotMatch(stdout, EVERY_INTERFACE);
  });

  it('says nothing of the kind on the loopback address', async () => {
    assert.doesNotMatch((await demoOn('127.0.0.1')).stderr, /every network interface/);
  });
});
