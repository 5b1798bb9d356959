// The transparency log over HTTP, on a real enclave: the C2SP tiles and checkpoint verify with the
// outside verifier (from the tiles alone, as anyone holding the public key would), proofs verify,
// receipts point at the right entries, search filters and proves its results, the decision point rules
// on every log route (the parent company and the platform service are refused), and bad parameters are
// typed 4xx answers.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { EnclaveError } from '../../src/core/errors.ts';
import { decodeLogEntry, subjectHash, type LogEntry } from '../../src/core/log-entry.ts';
import { openCheckpoint } from '../../src/core/tlog/checkpoint.ts';
import { decodeBase64 } from '../../src/core/tlog/encoding.ts';
import { checkRecord, checkTree, leafHash } from '../../src/core/tlog/merkle.ts';
import { noteVerifier } from '../../src/core/tlog/note.ts';
import { decodeEntryBundle } from '../../src/core/tlog/tiles.ts';
import { verifyLog } from '../../src/services/log-verifier.ts';
import { LOG_INDEX_HEADER } from '../../src/http/log-receipt.ts';
import { errorCode, json, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';
import type { RoleName } from '../helpers/fixture.ts';

let h: HttpFixture;
let vkey: string;

const hashes = (list: readonly string[]) => list.map((x) => decodeBase64(x, 'hash'));

interface SearchPage {
  checkpoint: string | null;
  size: number;
  results: { index: number; entry: LogEntry; proof: string[] }[];
  next: number | null;
}

before(async () => {
  h = await makeHttpFixture();
  assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' })).statusCode, 201);
  assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'jonas', country: 'DE' })).statusCode, 201);
  const w = await h.call('service', 'POST', '/v1/collections/users/records', { id: 'ann-p', data: { user_id: 'ann', username: 'ann', email: 'ann@example.test' } });
  assert.equal(w.statusCode, 201);
  await h.enclave.log.sync();
  const res = await h.call(null, 'GET', '/log/vkey');
  assert.equal(res.statusCode, 200, 'the verifier key is public');
  vkey = res.body.trim();
});
after(async () => h.close());

async function fetchAs(role: RoleName, path: string): Promise<Uint8Array | undefined> {
  const res = await h.call(role, 'GET', `/log/${path}`);
  if (res.statusCode === 404) return undefined;
  assert.equal(res.statusCode, 200, `${path}: ${res.body.slice(0, 200)}`);
  return new Uint8Array(res.rawPayload);
}

async function entryAt(index: number): Promise<LogEntry> {
  const [body] = await h.enclave.log.store.readEntries(index, index + 1);
  assert.ok(body, `entry ${index} exists`);
  return decodeLogEntry(body);
}

void describe('C2SP tlog-tiles resources', () => {
  void it('serve a log the outside verifier accepts from the checkpoint and tiles alone', async () => {
    const result = await verifyLog({ fetch: (p) => fetchAs('regulator', p), vkey });
    assert.ok(result.checkpoint.size >= 4);
    assert.equal(result.entriesChecked, result.checkpoint.size);
  });

  void it('use the content types and caching of the spec: immutable full tiles, short-lived checkpoint and partial tiles', async () => {
    // Fill the first tile so that a full one exists.
    await Promise.all(Array.from({ length: 300 }, () => h.call('service', 'GET', '/v1/subjects/ann')));
    await h.enclave.log.sync();
    const cp = await h.call('regulator', 'GET', '/log/checkpoint');
    assert.equal(cp.headers['content-type'], 'text/plain; charset=utf-8');
    assert.match(String(cp.headers['cache-control']), /max-age=1\b/);
    const size = Number(cp.body.split('\n')[1]);
    assert.ok(size > 256);
    const full = await h.call('regulator', 'GET', '/log/tile/0/000');
    assert.equal(full.statusCode, 200);
    assert.equal(full.headers['content-type'], 'application/octet-stream');
    assert.match(String(full.headers['cache-control']), /immutable/);
    assert.equal(full.rawPayload.length, 256 * 32);
    const partialWidth = size % 256;
    const partial = await h.call('regulator', 'GET', `/log/tile/0/001.p/${partialWidth}`);
    assert.equal(partial.statusCode, 200);
    assert.equal(partial.rawPayload.length, partialWidth * 32);
    assert.doesNotMatch(String(partial.headers['cache-control']), /immutable/);
    const bundle = await h.call('regulator', 'GET', '/log/tile/entries/000', undefined, { 'accept-encoding': 'gzip' });
    assert.equal(bundle.headers['content-encoding'], 'gzip', 'entry bundles are compressed when the client accepts it');
    // Served again (a full bundle is kept once served), each way, it is the same 256 entries.
    const plain = await h.call('regulator', 'GET', '/log/tile/entries/000');
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(decodeEntryBundle(new Uint8Array(plain.rawPayload), 256).length, 256);
    for (const encoding of ['gzip', 'identity']) {
      const again = await h.call('regulator', 'GET', '/log/tile/entries/000', undefined, { 'accept-encoding': encoding });
      const bytes = encoding === 'gzip' ? gunzipSync(again.rawPayload) : again.rawPayload;
      assert.deepEqual(bytes, plain.rawPayload, encoding);
    }
    const level1 = await h.call('regulator', 'GET', '/log/tile/1/000.p/1');
    assert.equal(level1.rawPayload.length, 32);
  });

  void it('answer 404 for tiles and bundles beyond the published tree, and 400 for malformed paths', async () => {
    const cp = await h.call('regulator', 'GET', '/log/checkpoint');
    const size = Number(cp.body.split('\n')[1]);
    const beyond = size % 256 === 255 ? 1 : (size % 256) + 1;
    for (const path of [`tile/0/001.p/${beyond}`, 'tile/0/999', `tile/entries/001.p/${beyond}`, 'tile/2/000.p/1', 'tile/0/x001/000']) {
      const res = await h.call('regulator', 'GET', `/log/${path}`);
      assert.equal(res.statusCode, 404, path);
      assert.equal(errorCode(res), 'not_found');
    }
    for (const path of ['tile/0/0', 'tile/0/001.p/256', 'tile/0/001.p/0', 'tile/64/000', 'tile/0/x000/001', 'tile/entries/abc', 'tile/00/000', 'tile/0/000.p/07']) {
      const res = await h.call('regulator', 'GET', `/log/${path}`);
      assert.equal(res.statusCode, 400, `${path}: ${res.body}`);
      assert.equal(errorCode(res), 'invalid_log_data');
    }
  });

  void it('answer 503, never 400 or a short bundle, when the store cannot give the entries of the published tree', async () => {
    const store = h.enclave.log.store;
    const read = store.readEntries.bind(store);
    const cases: [string, typeof store.readEntries][] = [
      ['none stored', () => Promise.resolve([])],
      ['some missing', async (from, to) => (await read(from, to)).slice(1)],
      ['store down', () => Promise.reject(new EnclaveError('storage_unavailable', 'the log store failed'))],
    ];
    for (const [what, readEntries] of cases) {
      Object.assign(store, { readEntries });
      try {
        const res = await h.call('regulator', 'GET', '/log/tile/entries/000.p/2');
        assert.equal(res.statusCode, 503, `${what}: ${res.body}`);
        assert.ok(['log_unavailable', 'storage_unavailable'].includes(errorCode(res) ?? ''), what);
      } finally {
        delete (store as Partial<typeof store>).readEntries;
      }
    }
    assert.equal((await h.call('regulator', 'GET', '/log/tile/entries/000.p/2')).statusCode, 200, 'served again once the store answers');
  });
});

void describe('metrics', () => {
  void it('expose the latest checkpoint\'s size and age, for alerts on a log that stops advancing', async () => {
    await h.enclave.log.sync();
    const size = (await h.enclave.log.checkpoint())?.size;
    const text = (await h.call(null, 'GET', '/metrics')).body;
    assert.match(text, new RegExp(`^enclave_log_checkpoint_size ${String(size)}$`, 'm'));
    assert.match(text, /^enclave_log_checkpoint_age_seconds \d+(\.\d+)?$/m);
  });

  void it('and /healthz say which instance is the sequencer (the only one, on SQLite)', async () => {
    await h.enclave.log.sync();
    const instance = h.enclave.log.instance;
    const text = (await h.call(null, 'GET', '/metrics')).body;
    assert.match(text, new RegExp(`^enclave_log_sequencer\\{instance="${instance}"\\} 1$`, 'm'));
    assert.match(text, /^enclave_log_sequencer_heartbeat_age_seconds \d+(\.\d+)?$/m);
    const health = JSON.parse((await h.call(null, 'GET', '/healthz')).body) as Record<string, unknown>;
    assert.deepEqual({ ...health, log_sequencer: { ...(health['log_sequencer'] as object), heartbeat_age_seconds: 0 } }, {
      status: 'ok',
      sealed: false,
      name: h.enclave.config.name,
      instance,
      sequencer: true,
      log_sequencer: { instance, held: true, heartbeat_age_seconds: 0 },
    });
  });
});

void describe('receipts', () => {
  void it('a protected read carries the index of its access.decision entry, which names no raw subject', async () => {
    const res = await h.call('service', 'GET', '/v1/collections/users/records/ann-p');
    assert.equal(res.statusCode, 200);
    const index = Number(res.headers[LOG_INDEX_HEADER]);
    assert.equal(json(res)['log_index'], index);
    const entry = await entryAt(index);
    assert.equal(entry.type, 'access.decision');
    assert.deepEqual(entry.principal, { id: 'service-1', org: 'platform', role: 'service' });
    assert.equal(entry.subject, subjectHash(Buffer.from(h.enclave.log.subjectKey(), 'hex'), 'ann'));
    assert.deepEqual({ action: entry.details['action'], allow: entry.details['allow'], release: entry.details['release'] }, { action: 'record.read', allow: true, release: 'protected' });
    const text = JSON.stringify(entry);
    assert.ok(!text.includes('ann@example.test') && !text.includes('"ann"'));
  });

  void it('a denial is logged too, and its receipt is on the 403', async () => {
    const res = await h.call('parent', 'PUT', '/v1/collections/users/records/ann-p', { data: { user_id: 'ann', username: 'x', email: 'x@example.test' } });
    assert.equal(res.statusCode, 403);
    const entry = await entryAt(Number(res.headers[LOG_INDEX_HEADER]));
    assert.deepEqual([entry.type, entry.details['action'], entry.details['allow']], ['access.decision', 'record.write', false]);
  });

  void it('writes carry the receipt of their record.* entry, and the entry becomes provable', async () => {
    const res = await h.call('service', 'POST', '/v1/collections/messages/records', { data: { sender_id: 'ann', recipient_id: 'jonas', body: 'hello there', sent_at: '2026-01-01T00:00:00Z' } });
    assert.equal(res.statusCode, 201);
    const index = Number(res.headers[LOG_INDEX_HEADER]);
    const entry = await entryAt(index);
    assert.equal(entry.type, 'record.created');
    assert.ok(!JSON.stringify(entry).includes('hello there'));
    await h.enclave.log.sync();
    const p = await h.call('regulator', 'GET', `/v1/log/proof/inclusion?index=${index}`);
    assert.equal(p.statusCode, 200, p.body);
    const proof = json<{ index: number; size: number; leaf_hash: string; proof: string[]; checkpoint: string }>(p);
    const { checkpoint } = openCheckpoint(proof.checkpoint, noteVerifier(vkey));
    const [body] = await h.enclave.log.store.readEntries(index, index + 1);
    assert.ok(body);
    assert.equal(proof.leaf_hash, Buffer.from(leafHash(body)).toString('base64'));
    checkRecord(hashes(proof.proof), checkpoint.size, checkpoint.root, index, leafHash(body));
  });
});

void describe('proofs', () => {
  void it('a consistency proof links an earlier checkpoint to the latest', async () => {
    const earlier = (await h.call('regulator', 'GET', '/log/checkpoint')).body;
    const old = openCheckpoint(earlier, noteVerifier(vkey)).checkpoint;
    await h.call('service', 'GET', '/v1/subjects/jonas');
    await h.enclave.log.sync();
    const res = await h.call('regulator', 'GET', `/v1/log/proof/consistency?from=${old.size}`);
    assert.equal(res.statusCode, 200, res.body);
    const body = json<{ from: number; to: number; proof: string[]; checkpoint: string }>(res);
    const now = openCheckpoint(body.checkpoint, noteVerifier(vkey)).checkpoint;
    assert.ok(now.size > old.size);
    checkTree(hashes(body.proof), now.size, now.root, old.size, old.root);
  });

  void it('refuses sizes beyond the published checkpoint and indexes beyond the size (invalid_log_data) and malformed parameters (invalid_request), with typed 400s', async () => {
    const size = Number((await h.call('regulator', 'GET', '/log/checkpoint')).body.split('\n')[1]);
    // Out of range for the tree: invalid_log_data (docs/errors.md), with what the range is.
    for (const [url, message] of [
      [`/v1/log/proof/inclusion?index=${size}`, `index must be from 0 to ${size - 1} for a tree of size ${size}`],
      [`/v1/log/proof/inclusion?index=0&size=${size + 1}`, `size must be a tree size from 0 to ${size}`],
      [`/v1/log/proof/consistency?from=${size + 1}`, `from must be a tree size from 0 to ${size}`],
      ['/v1/log/proof/consistency?from=5&to=4', 'from must be a tree size from 0 to 4'],
      ['/v1/log/proof/inclusion?index=0&size=0', 'a tree of size 0 has no entries to prove'],
    ] as const) {
      const res = await h.call('regulator', 'GET', url);
      assert.equal(res.statusCode, 400, `${url}: ${res.body}`);
      assert.equal(errorCode(res), 'invalid_log_data', url);
      assert.ok(json<{ error: { message: string } }>(res).error.message.startsWith(message), `${url}: ${res.body}`);
    }
    // Not a number the API takes at all: invalid_request.
    for (const url of [
      '/v1/log/proof/inclusion?index=-1',
      '/v1/log/proof/inclusion?index=01',
      '/v1/log/proof/inclusion?index=99999999999999999',
      '/v1/log/proof/inclusion',
      '/v1/log/proof/consistency?from=1&extra=2',
    ]) {
      const res = await h.call('regulator', 'GET', url);
      assert.equal(res.statusCode, 400, `${url}: ${res.body}`);
      assert.equal(errorCode(res), 'invalid_request', url);
    }
  });
});

void describe('search', () => {
  async function search(role: RoleName, query: string): Promise<SearchPage> {
    const res = await h.call(role, 'GET', `/v1/log/search?${query}`);
    assert.equal(res.statusCode, 200, `${query}: ${res.body}`);
    return json<SearchPage>(res);
  }

  void it('finds a subject\'s entries by raw id or by keyed hash, each with a proof against the page\'s checkpoint', async () => {
    await h.enclave.log.sync();
    const byId = await search('officer', 'subject=ann&limit=1000');
    const hash = subjectHash(Buffer.from(h.enclave.log.subjectKey(), 'hex'), 'ann');
    const byHash = await search('regulator', `subject_hash=${hash}&limit=1000`);
    assert.ok(byId.results.length >= 3);
    assert.deepEqual(byHash.results.map((r) => r.index), byId.results.map((r) => r.index));
    assert.ok(byId.results.every((r) => r.entry.subject === hash));
    const types = new Set(byId.results.map((r) => r.entry.type));
    for (const t of ['subject.registered', 'record.created', 'access.decision']) assert.ok(types.has(t as LogEntry['type']), t);
    const { checkpoint } = openCheckpoint(byHash.checkpoint ?? '', noteVerifier(vkey));
    const bodies = await h.enclave.log.store.readEntries(0, checkpoint.size);
    for (const r of byHash.results) {
      const body = bodies[r.index];
      assert.ok(body);
      assert.deepEqual(decodeLogEntry(body), r.entry);
      checkRecord(hashes(r.proof), checkpoint.size, checkpoint.root, r.index, leafHash(body));
    }
  });

  void it('filters by type, principal and time range, and pages with after/next', async () => {
    await h.enclave.log.sync();
    const created = await search('officer', 'type=record.created&limit=1000');
    assert.ok(created.results.length >= 2 && created.results.every((r) => r.entry.type === 'record.created'));
    const byService = await search('officer', 'principal=service-1&limit=1000');
    assert.ok(byService.results.length > 0 && byService.results.every((r) => r.entry.principal?.id === 'service-1'));
    const first = byService.results[0];
    assert.ok(first);
    const t = Date.parse(first.entry.time);
    const window = await search('officer', `principal=service-1&from=${new Date(t).toISOString()}&to=${new Date(t + 1).toISOString()}&limit=1000`);
    assert.ok(window.results.length >= 1 && window.results.every((r) => Date.parse(r.entry.time) === t));
    const none = await search('officer', `from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z`);
    assert.deepEqual(none.results, []);
    // Paging: two at a time covers the same entries as one large page.
    const all: number[] = [];
    let after: number | null = -1;
    for (let pages = 0; after !== null && pages < 500; pages++) {
      const page: SearchPage = await search('officer', `principal=service-1&limit=2${after >= 0 ? `&after=${after}` : ''}`);
      all.push(...page.results.map((r) => r.index));
      after = page.next;
    }
    assert.deepEqual(all, byService.results.map((r) => r.index).slice(0, all.length));
    assert.ok(all.length >= byService.results.length - 2);
  });

  void it('is itself logged, and refuses contradictory or malformed filters with typed 400s', async () => {
    const res = await h.call('officer', 'GET', '/v1/log/search?type=token.issued&limit=1');
    assert.equal(res.statusCode, 200);
    const entry = await entryAt(Number(res.headers[LOG_INDEX_HEADER]));
    assert.deepEqual([entry.type, entry.details['action']], ['access.decision', 'log.search']);
    for (const q of ['subject=ann&subject_hash=' + 'a'.repeat(64), 'subject_hash=xyz', 'type=nope', 'limit=0', 'limit=1001', 'from=yesterday', 'from=2026-13-45T00:00:00Z', 'from=2026-02-30T00:00:00Z', 'to=2026-01-01T24:00:00Z', 'from=2026-01-01 10:00:00Z', 'after=-1', 'principal=UPPER', 'unknown=1']) {
      const r = await h.call('officer', 'GET', `/v1/log/search?${q}`);
      assert.equal(r.statusCode, 400, `${q}: ${r.body}`);
      assert.equal(errorCode(r), 'invalid_request', q);
    }
  });

  void it('never answers a 5xx or an undocumented error, whatever the query (fast-check)', async () => {
    const key = fc.constantFrom('from', 'to', 'principal', 'type', 'subject', 'subject_hash', 'after', 'limit', 'index', 'size');
    const value = fc.oneof(fc.string(), fc.integer().map(String), fc.constantFrom('', '0', '-1', '1e3', '2026-01-01T00:00:00Z', 'ann', 'a'.repeat(64), 'record.created', '9'.repeat(30)));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('/v1/log/search', '/v1/log/proof/inclusion', '/v1/log/proof/consistency'), fc.dictionary(key, value, { maxKeys: 4 }), async (path, q) => {
        const res = await h.call('regulator', 'GET', `${path}?${new URLSearchParams(q).toString()}`);
        assert.ok(res.statusCode === 200 || res.statusCode === 400 || res.statusCode === 503, `${path} ${JSON.stringify(q)} -> ${res.statusCode} ${res.body.slice(0, 200)}`);
        if (res.statusCode !== 200) assert.ok(['invalid_request', 'invalid_log_data', 'sealed'].includes(errorCode(res) ?? ''), res.body.slice(0, 200));
      }),
      { numRuns: 150 },
    );
  });
});

void describe('authorization', () => {
  const readRoutes = ['/log/checkpoint', '/log/tile/0/000.p/1', '/log/tile/entries/000.p/1', '/v1/log/proof/inclusion?index=0', '/v1/log/proof/consistency?from=1', '/v1/log/search'];

  void it('refuses the parent company and the platform service on every log route but the public key', async () => {
    for (const role of ['parent', 'service'] as const) {
      for (const url of readRoutes) {
        const res = await h.call(role, 'GET', url);
        assert.equal(res.statusCode, 403, `${role} ${url}`);
        assert.equal(errorCode(res), 'forbidden');
      }
      const key = await h.call(role, 'POST', '/v1/log/subject-key', { recipient: 'regulator', reason: 'a test of the refusal' });
      assert.equal(key.statusCode, 403);
    }
    for (const url of readRoutes) assert.equal((await h.call(null, 'GET', url)).statusCode, 401, url);
  });

  void it('lets the gatekeeper, the trusted provider and the regulator read and search', async () => {
    for (const role of ['officer', 'approver', 'provider', 'regulator'] as const) {
      for (const url of readRoutes) assert.equal((await h.call(role, 'GET', url)).statusCode, 200, `${role} ${url}`);
    }
  });

  void it('discloses the subject key only to a gatekeeper officer, logged first, and never while sealed', async () => {
    assert.equal((await h.call('regulator', 'POST', '/v1/log/subject-key', { recipient: 'regulator', reason: 'audit of 2026' })).statusCode, 403);
    const res = await h.call('officer', 'POST', '/v1/log/subject-key', { recipient: 'regulator', reason: 'audit of 2026 by the committee' });
    assert.equal(res.statusCode, 200, res.body);
    const body = json<{ key: string; algorithm: string; log_index: number }>(res);
    assert.equal(body.algorithm, 'HMAC-SHA256');
    // The key links entries to subjects: the regulator recomputes a subject's hash.
    const entry = await entryAt(body.log_index);
    assert.deepEqual([entry.type, entry.details['recipient']], ['key.disclosed', 'regulator']);
    const page = json<SearchPage>(await h.call('regulator', 'GET', `/v1/log/search?subject_hash=${subjectHash(Buffer.from(body.key, 'hex'), 'jonas')}`));
    assert.ok(page.results.length > 0);
    assert.equal((await h.call('officer', 'POST', '/v1/log/subject-key', { recipient: 'regulator', reason: 'x' })).statusCode, 400);
    const surrogate = await h.call('officer', 'POST', '/v1/log/subject-key', { recipient: 'regulator', reason: 'yearly audit \ud800 of 2026' });
    assert.deepEqual([surrogate.statusCode, errorCode(surrogate)], [400, 'invalid_request'], 'a reason the log cannot hold is the caller\'s mistake, not a log outage');

    h.enclave.seal.seal();
    const sealed = await h.call('officer', 'POST', '/v1/log/subject-key', { recipient: 'regulator', reason: 'audit of 2026 by the committee' });
    assert.equal(sealed.statusCode, 503);
    assert.equal(errorCode(sealed), 'sealed');
    assert.equal(errorCode(await h.call('officer', 'GET', '/v1/log/search?subject=ann')), 'sealed', 'a raw subject id cannot be hashed while sealed');
    assert.equal((await h.call('officer', 'GET', '/v1/log/search?type=record.created')).statusCode, 200, 'other searches work sealed');
    for (const share of h.shares.slice(0, 2)) await h.enclave.seal.submit(share);
  });
});
