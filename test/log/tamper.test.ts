// Tamper evidence (issue 4, point 6): a real enclave with its transparency log serves /log over HTTP;
// between runs, its stored entries, tiles and checkpoints are edited, deleted, reordered and truncated
// directly in the SQLite file, the tree is forked by re-integrating rewritten entries under the log's
// own key, and a checkpoint is rolled back. Each time `enclave log verify` — from the checkpoint and
// tiles alone, as an outside party — exits 1 with the one line that names the failure.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { FastifyInstance } from 'fastify';
import { runCli } from '../../src/cli/program.ts';
import { isEnclaveError } from '../../src/core/errors.ts';
import { SIG_TYPE_COSIGNATURE, cosignerFromKey, generateNoteKey } from '../../src/core/tlog/index.ts';
import { buildServer } from '../../src/http/server.ts';
import { buildWitnessServer } from '../../src/http/witness-server.ts';
import { loadConfig } from '../../src/services/config-loader.ts';
import { openEnclave, type Enclave } from '../../src/services/enclave.ts';
import { initEnclave } from '../../src/services/init-service.ts';
import { readDevShares } from '../../src/services/dev-shares.ts';
import { WitnessService, parseLogOption } from '../../src/services/witness-service.ts';
import { SqliteWitnessStore } from '../../src/storage/sqlite/sqlite-witness-store.ts';
import { memoryIo, oneErrorLine } from '../cli/helpers.ts';
import { tempDir } from '../helpers/fixture.ts';

const dirs: string[] = [];
/** Whatever is still open when a test fails midway is closed here, so the process can end. */
const open = new Set<{ close(): Promise<void> }>();
after(async () => {
  for (const o of open) await o.close().catch(() => {});
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Site {
  readonly dir: string;
  readonly configPath: string;
  readonly dbPath: string;
  readonly token: string;
  readonly vkey: string;
  enclave: Enclave;
  app: FastifyInstance;
  url: string;
}

async function serve(configPath: string, unseal: boolean): Promise<{ enclave: Enclave; app: FastifyInstance; url: string }> {
  const config = loadConfig(configPath);
  const enclave = await openEnclave(config);
  open.add(enclave);
  if (unseal) for (const s of readDevShares(config.dataDir) ?? []) await enclave.seal.submit(s);
  const app = await buildServer(enclave);
  open.add(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { enclave, app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/log` };
}

/** A fresh enclave with `entries` logged decisions, integrated and checkpointed; `edit` may change its configuration first. */
async function site(entries: number, edit?: (yaml: string) => string): Promise<Site> {
  const dir = tempDir('enclave-tamper-');
  dirs.push(dir);
  const init = await initEnclave(dir, { dev: true, name: 'tamper' });
  if (edit) writeFileSync(init.configPath, edit(readFileSync(init.configPath, 'utf8')));
  const running = await serve(init.configPath, true);
  const issued = await running.enclave.tokens.issue({ principal: 'regulator-1', org: 'regulator', role: 'auditor' });
  if (entries > 0) await appendDecisions(running.enclave, entries);
  const vkey = await running.enclave.log.vkey();
  assert.ok(vkey);
  return { dir, configPath: init.configPath, dbPath: join(init.dataDir, 'log.db'), token: issued.secret, vkey, ...running };
}

async function appendDecisions(enclave: Enclave, n: number, options: { sync?: boolean } = {}): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      enclave.log.append({ type: 'access.decision', principal: { id: 'svc-1', org: 'platform', role: 'service' }, subject: `u-${i % 13}`, details: { action: 'record.read', i } }),
    ),
  );
  if (options.sync !== false) await enclave.log.sync();
}

/** Stops the server, edits the log's SQLite file as an attacker with disk access would, and serves again. */
async function tamper(s: Site, sql: (db: DatabaseSync) => void, options: { unseal?: boolean } = {}): Promise<void> {
  await close(s);
  const db = new DatabaseSync(s.dbPath);
  try {
    sql(db);
  } finally {
    db.close();
  }
  Object.assign(s, await serve(s.configPath, options.unseal === true));
}

async function close(s: Site): Promise<void> {
  await s.app.close();
  await s.enclave.close();
  open.delete(s.app);
  open.delete(s.enclave);
}

async function verify(s: Site, ...extra: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await runCli(['log', 'verify', '--url', s.url, '--vkey', s.vkey, '--token', s.token, ...extra], io);
  await new Promise((r) => setImmediate(r));
  return { code, out: io.out(), err: io.err() };
}

async function fails(s: Site, code: string, pattern: RegExp, ...extra: string[]): Promise<void> {
  const r = await verify(s, ...extra);
  assert.equal(r.code, 1, `expected a failure, got: ${r.out}`);
  const line = oneErrorLine({ code: r.code, signal: null, stdout: r.out, stderr: r.err });
  assert.equal(line.code, code, line.message);
  assert.match(line.message, pattern);
}

function size(s: Site): Promise<number> {
  return s.enclave.log.checkpoint().then((cp) => cp?.size ?? 0);
}

function body(db: DatabaseSync, idx: number): Uint8Array {
  return (db.prepare('SELECT body FROM log_entries WHERE idx = ?').get(idx) as { body: Uint8Array }).body;
}

test('an honest log verifies, with chosen entries, and stays consistent with the saved checkpoint as it grows', async () => {
  const s = await site(300);
  try {
    const saved = join(s.dir, 'cp.txt');
    // The enclave's own entries come first (among them init's bootstrap token for each seal officer);
    // entry 8 is the first logged decision.
    const first = await verify(s, '--entry', '8', '--save', saved);
    assert.equal(first.code, 0, first.err);
    assert.match(first.out, new RegExp(`^verified enclave/tamper: checkpoint of ${await size(s)} entries`));
    assert.match(first.out, /entry 8: included \(\d+ proof hashes\): \{"details":\{"action":"record\.read","i":\d+\},"principal":\{"id":"svc-1"/);
    await appendDecisions(s.enclave, 40);
    const second = await verify(s, '--since', saved);
    assert.equal(second.code, 0, second.err);
    assert.match(second.out, /consistent with the saved checkpoint of \d+ entries/);
  } finally {
    await close(s);
  }
});

test('an edited entry is named with its bundle and position', async () => {
  const s = await site(20);
  try {
    const n = await size(s);
    await tamper(s, (db) => {
      const edited = new TextDecoder().decode(body(db, 8)).replace('"record.read"', '"record.list"');
      db.prepare('UPDATE log_entries SET body = ? WHERE idx = 8').run(new TextEncoder().encode(edited));
    });
    await fails(s, 'log_mismatch', new RegExp(`^entry 8 \\(tile/entries/000\\.p/${n}, position 8\\) hashes to [0-9a-f]{16}…, but tile/0/000\\.p/${n} holds [0-9a-f]{16}… for it$`));
  } finally {
    await close(s);
  }
});

test('a deleted entry and reordered entries are caught', async () => {
  const s = await site(20);
  try {
    const n = await size(s);
    await tamper(s, (db) => db.prepare('DELETE FROM log_entries WHERE idx = 7').run());
    // The log notices it cannot serve the bundle its checkpoint commits to (a short one would be cached as
    // immutable); the verifier says which and why. A log that serves it short anyway: log-verifier.test.ts.
    await fails(s, 'log_unavailable', new RegExp(`/log/tile/entries/000\\.p/${n}: entries 0 to ${n - 1} are not all in the log store \\(${n - 1} of ${n} read\\)$`));
  } finally {
    await close(s);
  }
  const r = await site(20);
  try {
    await tamper(r, (db) => {
      const [a, b] = [body(db, 3), body(db, 4)];
      db.prepare('UPDATE log_entries SET body = ? WHERE idx = 3').run(b);
      db.prepare('UPDATE log_entries SET body = ? WHERE idx = 4').run(a);
    });
    await fails(r, 'log_mismatch', /^entry 3 \(tile\/entries\/000\.p\/\d+, position 3\) hashes to/);
  } finally {
    await close(r);
  }
});

test('a truncated log: entries cut off and a tile removed', async () => {
  const s = await site(600);
  try {
    await tamper(s, (db) => db.prepare('DELETE FROM log_entries WHERE idx >= 300').run());
    await fails(s, 'log_unavailable', /\/log\/tile\/entries\/001: entries 256 to 511 are not all in the log store \(44 of 256 read\)$/);
    await tamper(s, (db) => db.prepare('DELETE FROM log_tiles WHERE level = 0 AND idx = 2').run());
    // The log cannot serve a tile its checkpoint commits to; the verifier says which and why.
    await fails(s, 'log_unavailable', /\/log\/tile\/0\/002\.p\/\d+: tile 0\/2 of width \d+ is missing from the log store$/, '--no-full', '--entry', '5');
  } finally {
    await close(s);
  }
});

test('an edited tile is caught against the entries it should hash', async () => {
  const s = await site(300);
  try {
    await tamper(s, (db) => {
      const { data } = db.prepare('SELECT data FROM log_tiles WHERE level = 0 AND idx = 0').get() as { data: Uint8Array };
      const edited = Uint8Array.from(data);
      edited[32 * 17] = (edited[32 * 17] ?? 0) ^ 0xff;
      db.prepare('UPDATE log_tiles SET data = ? WHERE level = 0 AND idx = 0').run(edited);
    });
    await fails(s, 'log_mismatch', /^entry 17 \(tile\/entries\/000, position 17\) hashes to [0-9a-f]{16}…, but tile\/0\/000 holds [0-9a-f]{16}… for it$/);
  } finally {
    await close(s);
  }
});

test('a checkpoint rolled back is caught against the one saved earlier', async () => {
  const s = await site(30);
  try {
    await appendDecisions(s.enclave, 30);
    const saved = join(s.dir, 'cp.txt');
    assert.equal((await verify(s, '--save', saved)).code, 0);
    const newer = await size(s);
    await tamper(s, (db) => db.prepare('DELETE FROM log_checkpoints WHERE size = ?').run(newer));
    const older = await size(s);
    assert.ok(older < newer);
    await fails(s, 'log_rollback', new RegExp(`^the log's checkpoint has size ${older}, smaller than the saved checkpoint's ${newer}: the log was rolled back or truncated$`), '--since', saved);
  } finally {
    await close(s);
  }
});

/** Rewrites the first logged decision at or after `from` and makes the log re-integrate everything from scratch, as an operator with the keys could. */
function forkAt(from: number): (db: DatabaseSync) => void {
  return (db) => {
    let idx = from;
    while (!new TextDecoder().decode(body(db, idx)).includes('"record.read"')) idx++;
    const edited = new TextDecoder().decode(body(db, idx)).replace('"record.read"', '"record.list"');
    db.prepare('UPDATE log_entries SET body = ? WHERE idx = ?').run(new TextEncoder().encode(edited), idx);
    db.prepare('DELETE FROM log_tiles').run();
    // Whatever else integration derives from the entries is rebuilt too (the subject index, if the store has one).
    if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'log_subject_index'").get()) db.prepare('DELETE FROM log_subject_index').run();
    db.prepare("UPDATE log_meta SET value = '0' WHERE key = 'tree_size'").run();
  };
}

test('a forked tree, re-signed with the log key, is caught as rewritten history', async () => {
  const s = await site(40);
  try {
    const saved = join(s.dir, 'cp.txt');
    assert.equal((await verify(s, '--save', saved)).code, 0);
    const before = await size(s);
    // The operator rewrites entry 9, re-integrates the tree and signs a larger checkpoint over it.
    await tamper(s, (db) => {
      forkAt(9)(db);
      db.prepare('DELETE FROM log_checkpoints').run();
    }, { unseal: true });
    await appendDecisions(s.enclave, 5);
    assert.ok((await size(s)) > before);
    // On its own the forked log is self-consistent: only the saved checkpoint exposes it.
    assert.equal((await verify(s)).code, 0);
    await fails(s, 'log_proof_invalid', new RegExp(`^the log is not consistent with the saved checkpoint of size ${before} \\(its history was rewritten\\): consistency proof from size ${before} to \\d+ does not lead to the old root`), '--since', saved);
  } finally {
    await close(s);
  }
});

test('the log key never signs a tree that does not extend its own last checkpoint: a truncated or rewritten store is refused', async () => {
  const cases: [string, (db: DatabaseSync, size: number) => void][] = [
    // Entries from 30 on deleted and the integrated size set back, as an attacker with disk access could.
    ['truncated', (db) => {
      db.prepare('DELETE FROM log_entries WHERE idx >= 30').run();
      if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'log_subject_index'").get()) db.prepare('DELETE FROM log_subject_index WHERE idx >= 30').run();
      db.prepare("UPDATE log_meta SET value = '30' WHERE key = 'tree_size'").run();
    }],
    // Entry 9 rewritten and the tree re-integrated from scratch; the signed checkpoints are left alone.
    ['rewritten', (db) => forkAt(9)(db)],
  ];
  for (const [what, edit] of cases) {
    const s = await site(40);
    try {
      const before = await size(s);
      await tamper(s, (db) => edit(db, before), { unseal: true });
      await appendDecisions(s.enclave, 20, { sync: false });
      await assert.rejects(s.enclave.log.sync(), (e: unknown) => isEnclaveError(e, 'log_mismatch') && new RegExp(`does not extend the last published checkpoint \\(size ${before}\\)`).test(e.message), what);
      assert.equal(await size(s), before, `${what}: the last good checkpoint is still the one served`);
      // An outside verifier sees the old checkpoint, and the tiles it commits to no longer match it.
      assert.equal((await verify(s)).code, 1, what);
    } finally {
      await close(s);
    }
  }
});

test('the check reads the last checkpoint as signed: an edited size column does not stop an honest log', async () => {
  const s = await site(40);
  try {
    const before = await size(s);
    // The size column of the stored checkpoint is no part of what the log key signed.
    await tamper(s, (db) => db.prepare('UPDATE log_checkpoints SET size = 3 WHERE size = ?').run(before), { unseal: true });
    await appendDecisions(s.enclave, 10);
    assert.ok((await size(s)) > before, 'a new checkpoint is signed');
    assert.equal((await verify(s)).code, 0);
  } finally {
    await close(s);
  }
});

test('with a witness, a forked tree never gets cosigned: the log cannot publish it', async () => {
  const wdir = tempDir('enclave-tamper-witness-');
  dirs.push(wdir);
  const wkey = generateNoteKey('witness.provider.example/w1', SIG_TYPE_COSIGNATURE);
  const store = new SqliteWitnessStore(join(wdir, 'witness.db'));
  open.add(store);
  const logs = new Map<string, string[]>();
  const witness = new WitnessService({ store, cosigner: cosignerFromKey(wkey.skey), logs });
  const wapp = await buildWitnessServer(witness);
  open.add(wapp);
  await wapp.listen({ host: '127.0.0.1', port: 0 });
  const wurl = `http://127.0.0.1:${(wapp.server.address() as AddressInfo).port}`;
  const withWitness = (yaml: string) =>
    yaml.replace(/^ {2}witness_quorum: 0$/m, `  witnesses:\n    - { name: "witness.provider.example/w1", url: "${wurl}", vkey: "${wkey.vkey}" }\n  witness_quorum: 1`);
  // The witness learns the log's key from the log itself once (in production: out of band).
  const s = await site(0, withWitness);
  try {
    parseLogOption(s.vkey, logs);
    await appendDecisions(s.enclave, 30);
    const ok = await verify(s, '--witness', wkey.vkey, '--quorum', '1');
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /witnesses: 1 of 1 cosigned \(quorum 1\): witness\.provider\.example\/w1/);
    const cosigned = await size(s);
    // The fork: the first decision rewritten, the tree rebuilt and signed again by the log's key. The
    // log's own checkpoints go too: with them the log itself would refuse to sign (the test above).
    await tamper(s, (db) => {
      forkAt(0)(db);
      db.prepare('DELETE FROM log_checkpoints').run();
    }, { unseal: true });
    await appendDecisions(s.enclave, 5, { sync: false });
    await assert.rejects(s.enclave.log.sync(), (e: unknown) => isEnclaveError(e, 'log_quorum_not_met'));
    // The witness refused the forked checkpoint and kept it as evidence; nothing was published.
    assert.equal(await size(s), 0);
    const evidence = await store.evidence(s.vkey.split('+')[0] as string);
    assert.ok(evidence.some((e) => e.reason.startsWith('log_proof_invalid')), JSON.stringify(evidence.map((e) => e.reason)));
    assert.ok(cosigned > 0);
    assert.equal((await verify(s, '--witness', wkey.vkey, '--quorum', '1')).code, 1, 'no cosigned checkpoint to verify');
  } finally {
    await close(s);
    await wapp.close();
    await store.close();
  }
});
