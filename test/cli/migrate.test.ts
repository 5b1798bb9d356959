// `enclave migrate …` as a person runs it: real processes on a real enclave and a legacy SQLite site;
// unsealing with the officers' shares piped in; JSON results; failures as one line with the right code
// and exit status; a certificate verified elsewhere from a file and the verifier key alone.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { buildLegacySites } from '../../src/cli/demo/legacy-sites.ts';
import { Population } from '../../src/cli/demo/population.ts';
import { MIGRATION_MAIN_FLAGS, missingHeapFlags } from '../../src/cli/heap-limits.ts';
import { initEnclave } from '../../src/services/init-service.ts';
import { begin, killAll, oneErrorLine, removeDir, run, tempDir } from './helpers.ts';

/**
 * A development enclave in a temporary directory and the legacy site "virginia" of this population
 * (its SQLite file and mapping), made before the describe's tests and removed after them.
 */
function migrationEnclave(population: Population) {
  const made = { root: '', config: '', mapping: '', legacy: '', shares: [] as string[], logDb: '' };
  before(async () => {
    made.root = tempDir();
    const init = await initEnclave(join(made.root, 'e'), { dev: true });
    made.config = init.configPath;
    made.shares = init.shares.map((s) => s.share);
    made.logDb = join(init.dataDir, 'log.db');
    const [virginia] = buildLegacySites(join(made.root, 'legacy'), population);
    made.mapping = virginia?.mappingPath ?? '';
    made.legacy = virginia?.path ?? '';
  });
  after(() => {
    killAll();
    removeDir(made.root);
  });
  return made;
}

describe('enclave migrate', () => {
  const made = migrationEnclave(new Population(5, 40));
  /** How many enclave.unsealed entries the transparency log holds. */
  const unsealedEntries = () => {
    const db = new DatabaseSync(made.logDb, { readOnly: true });
    try {
      return Number((db.prepare("SELECT count(*) AS n FROM log_entries WHERE type = 'enclave.unsealed'").get() as { n: number }).n);
    } finally {
      db.close();
    }
  };
  const cli = (args: readonly string[], input?: string) => run(['migrate', ...args, '--config', made.config], input === undefined ? {} : { input });

  it('usage errors exit 2 and bad mappings exit 1, each as one line', async () => {
    const missing = await cli(['plan']);
    assert.equal(missing.code, 2);
    assert.match(oneErrorLine(missing).message, /required option '-m, --mapping <file>' not specified/);
    const bad = join(made.root, 'legacy', 'bad.yaml');
    writeFileSync(bad, readFileSync(made.mapping, 'utf8').replace('body: body', 'body: text'));
    const r = await cli(['plan', '--mapping', bad]);
    assert.equal(r.code, 1);
    const e = oneErrorLine(r);
    assert.equal(e.code, 'mapping_mismatch');
    assert.match(e.message, /tables\[2\] \(messages\)\.fields\.body: column "text" does not exist in source table messages/);
    const nofile = await cli(['plan', '--mapping', join(made.root, 'nope.yaml')]);
    assert.equal(oneErrorLine(nofile).code, 'invalid_mapping');
  });

  it('a malformed PostgreSQL or MySQL source URL is an invalid_mapping line naming the mapping file and the key, never the password', async () => {
    const text = readFileSync(made.mapping, 'utf8');
    assert.match(text, /^source: .+$/m);
    const cases = [
      ['postgres', 'postgres://ann:s3cret@[bad/legacy'],
      ['postgres', 'postgresql://ann:s3cret@db.example:99999/legacy'],
      ['postgres', 'postgres://ann:s3cret@db.example/legacy?sslmode=verify-full&sslrootcert=no-such-ca.pem'],
      ['mysql', 'mysql://ann:s3cret@[bad/legacy'],
    ] as const;
    for (const [i, [kind, url]] of cases.entries()) {
      const file = join(made.root, 'legacy', `bad-url-${i}.yaml`);
      writeFileSync(file, text.replace(/^source: .+$/m, `source: { ${kind}: '${url}', site: virginia }`));
      for (const args of [['plan'], ['verify', '--dev-unseal']]) {
        const r = await cli([...args, '--mapping', file, '--quiet']);
        assert.equal(r.code, 1, r.stderr);
        const e = oneErrorLine(r);
        assert.equal(e.code, 'invalid_mapping', `${url}: ${e.message}`);
        assert.ok(e.message.startsWith(`${file}: source.${kind} `), `${url}: ${e.message}`);
        assert.doesNotMatch(e.message, /s3cret/);
      }
    }
  });

  it('refuses an enclave never initialized, with no shares asked for', async () => {
    const text = readFileSync(made.config, 'utf8');
    assert.match(text, /^data_dir: .+$/m);
    const elsewhere = (dataDir: string) => {
      const file = join(made.root, `${dataDir}.yaml`);
      writeFileSync(file, text.replace(/^data_dir: .+$/m, `data_dir: ${join(made.root, dataDir)}`));
      return file;
    };
    const missing = await run(['migrate', 'run', '--mapping', made.mapping, '--config', elsewhere('no-such-dir')]);
    assert.equal(missing.code, 1);
    assert.deepEqual(oneErrorLine(missing), { code: 'not_initialized', message: `data directory ${join(made.root, 'no-such-dir')} does not exist (run \`enclave init\` first)` });
    mkdirSync(join(made.root, 'empty-dir'));
    const keyless = await run(['migrate', 'verify', '--mapping', made.mapping, '--config', elsewhere('empty-dir')]);
    assert.equal(keyless.code, 1);
    assert.equal(oneErrorLine(keyless).code, 'not_initialized');
    assert.match(oneErrorLine(keyless).message, /has no root key yet \(run `enclave init` first\)$/);
  });

  it('plan prints what would move where, as JSON too', async () => {
    const r = await cli(['plan', '--mapping', made.mapping, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(r.stdout) as { migration: string; tables: { table: string; rows: number; moves: Record<string, { site: string; rows: number }> }[] };
    assert.equal(plan.migration, 'virginia');
    assert.deepEqual(plan.tables.map((t) => t.table), ['accounts', 'devices', 'messages', 'watch_events', 'videos', 'comments']);
    assert.equal(plan.tables[0]?.moves['us']?.site, 'trusted-us');
    const human = await cli(['plan', '--mapping', made.mapping]);
    assert.match(human.stdout, /^Plan of migration "virginia" from sqlite:virginia\.db \(no data was changed\)/);
    assert.match(human.stdout, /TO us \(trusted-us\)/);
  });

  it('plan --help says what plan writes: the migration state store, created on first use', async () => {
    const help = await run(['migrate', 'plan', '--help']);
    assert.equal(help.code, 0, help.stderr);
    const text = help.stdout.replace(/\s+/g, ' ');
    assert.doesNotMatch(text, /writes nothing, anywhere|changes nothing/i);
    assert.match(text, /migration state store \(migration\.state, by default migration-state\.db in the data directory\) is created/);
    const summary = /^ {2}plan .*$/m.exec((await run(['migrate', '--help'])).stdout)?.[0] ?? '';
    assert.match(summary, /count what would move where; changes no data/);
    // What the help says is what plan does.
    const state = join(made.root, 'e', 'data', 'migration-state.db');
    removeDir(state);
    assert.equal((await cli(['plan', '--mapping', made.mapping, '--quiet'])).code, 0);
    assert.equal(existsSync(state), true);
  });

  it('a sealed enclave needs the officers\' shares: too few are refused, the threshold unseals (logged once, by the process that copies)', async () => {
    const unsealed = unsealedEntries();
    const few = await cli(['run', '--mapping', made.mapping, '--quiet'], `${made.shares[0] ?? ''}\n`);
    assert.equal(few.code, 1);
    assert.match(oneErrorLine(few).message, /1 of the 2 shares needed were given on stdin; the enclave stays sealed/);
    // Every officer's share piped: the first two complete the set, the third is not needed.
    const r = await cli(['run', '--mapping', made.mapping, '--json'], `${made.shares[0] ?? ''}\n${made.shares[2] ?? ''}\n${made.shares[1] ?? ''}\n`);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { complete: boolean; counters: { copied: number; refused: number } };
    assert.equal(report.complete, true);
    assert.ok(report.counters.copied > 50);
    assert.equal(report.counters.refused, 0);
    assert.equal(unsealedEntries(), unsealed + 1, 'one enclave.unsealed entry for the run, none for the refused attempt');
    const progress = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { progress: string; done: number; total: number; rate?: number });
    assert.ok(progress.length > 0 && progress.every((p) => p.progress === 'copying virginia'), 'JSON progress lines off a terminal');
    assert.equal(progress.at(-1)?.done, progress.at(-1)?.total);
  });

  it('runs with a bounded heap (the same process, restarted with the flags), and reports what the run used', async (t) => {
    if (!existsSync('/proc/self/cmdline')) return t.skip('reads the process\'s command line from /proc (Linux)');
    const flags = missingHeapFlags(MIGRATION_MAIN_FLAGS, [], process.env['NODE_OPTIONS'] ?? '');
    if (flags.length === 0) return t.skip('NODE_OPTIONS sets the heap sizes already');
    const { child, done } = begin(['migrate', 'run', '--mapping', made.mapping, '--json', '--quiet', '--config', made.config]);
    // The process replaces itself before it reads the shares, which are held back until it has.
    const cmdline = () => {
      try {
        return readFileSync(`/proc/${child.pid ?? 0}/cmdline`, 'utf8').split('\0');
      } catch {
        return ['(exited)'];
      }
    };
    try {
      const deadline = Date.now() + 30_000;
      const restarted = () => flags.every((f) => cmdline().includes(f));
      while (!restarted() && cmdline()[0] !== '(exited)' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(restarted(), cmdline().join(' '));
    } finally {
      child.stdin?.end(`${made.shares[0] ?? ''}\n${made.shares[1] ?? ''}\n`);
    }
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    const { resources } = JSON.parse(r.stdout) as { resources: { ms: number; cpuMs: number; peakRssBytes: number } };
    assert.ok(resources.ms > 0 && resources.cpuMs > 0, JSON.stringify(resources));
    // No Node process with the enclave open runs in under 20 MiB, nor a run this small in 2 GiB.
    assert.ok(resources.peakRssBytes > 20 * 2 ** 20 && resources.peakRssBytes < 2 ** 31, JSON.stringify(resources));
    const human = await cli(['run', '--mapping', made.mapping, '--dev-unseal', '--quiet']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^Resources: [\d.]+ m?s of CPU in [\d.]+ m?s; peak memory of this process \d+\.\d MiB \(resident set\)$/m);
  });

  it('verify exits 1 with verification_failed and lists every mismatch on stdout; the next run repairs it', async () => {
    const db = new DatabaseSync(made.legacy);
    const id = (db.prepare("SELECT m.id FROM messages m JOIN accounts a ON a.id = m.sender_account WHERE upper(trim(a.country_code)) = 'US' ORDER BY m.id LIMIT 1").get() as { id: string }).id;
    db.prepare('UPDATE messages SET body = ? WHERE id = ?').run('changed behind our back', id);
    db.close();
    const r = await cli(['verify', '--mapping', made.mapping, '--dev-unseal', '--quiet']);
    assert.equal(r.code, 1);
    assert.equal(oneErrorLine({ ...r, stderr: r.stderr.split('\n').filter((l) => !l.startsWith('DEVELOPMENT MODE')).join('\n') }).code, 'verification_failed');
    assert.match(r.stdout, new RegExp(`^ {2}messages +"${id}" +changed +the record differs from its source row$`, 'm'));
    assert.match(r.stdout, /Run `enclave migrate run` to copy the changed, missing and extra rows again, then verify\./);
    assert.doesNotMatch(r.stdout, /Refused rows/, 'nothing refused: no advice about refusals');
    const rerun = await cli(['run', '--mapping', made.mapping, '--dev-unseal', '--quiet', '--json']);
    assert.equal((JSON.parse(rerun.stdout) as { counters: { recopied: number } }).counters.recopied, 1);
    const ok = await cli(['verify', '--mapping', made.mapping, '--dev-unseal', '--quiet', '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as { ok: boolean }).ok, true);
  });

  it('purge needs --yes off a terminal, then certifies; the certificate verifies anywhere from a file and the key', async () => {
    const unconfirmed = await cli(['purge', '--mapping', made.mapping, '--dev-unseal']);
    assert.equal(unconfirmed.code, 2);
    assert.match(oneErrorLine(unconfirmed).message, /confirm with --yes when not on a terminal/);
    const r = await cli(['purge', '--mapping', made.mapping, '--dev-unseal', '--yes', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Method \(SQLite [\d.]+\):\n {2}- DELETE in one transaction/);
    const id = /Deletion certificate (dc-[0-9a-f]{24})/.exec(r.stdout)?.[1];
    assert.ok(id);
    // The entry named is the certificate's own (certificate.issued), right after the purge's.
    const [, certEntry, purgeEntry] = /Deletion certificate dc-[0-9a-f]{24} \(transparency log entry (\d+); the purge is entry (\d+)\)/.exec(r.stdout) ?? [];
    assert.equal(Number(certEntry), Number(purgeEntry) + 1, r.stdout);

    const list = await cli(['certificate']);
    assert.match(list.stdout, new RegExp(`^${id} +virginia `, 'm'));
    const file = join(made.root, 'virginia.cert');
    const shown = await cli(['certificate', id, '--out', file]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /✓ Ed25519 signature by enclave\/enclave\/deletion-certificates \(key id [0-9a-f]{8}\) verifies over the note text/);
    const vkey = (await cli(['certificate', '--public-key'])).stdout.trim();
    assert.match(vkey, /^enclave\/enclave\/deletion-certificates\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/);
    writeFileSync(join(made.root, 'cert.vkey'), `${vkey}\n`);

    // The auditor's machine: no configuration, only the file and the key.
    const offline = await run(['migrate', 'certificate', '--file', file, '--key', `@${join(made.root, 'cert.vkey')}`, '--json', '--config', join(made.root, 'none.yaml')]);
    assert.equal(offline.code, 0, offline.stderr);
    const check = JSON.parse(offline.stdout) as { id: string; valid: boolean; certificate: { totals: { purged_rows: number } } };
    assert.deepEqual([check.id, check.valid], [id, true]);
    assert.ok(check.certificate.totals.purged_rows > 50);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/"purged_rows":(\d+)/, (_m, n: string) => `"purged_rows":${Number(n) - 1}`));
    const forged = await run(['migrate', 'certificate', '--file', file, '--key', vkey]);
    assert.equal(forged.code, 1);
    assert.equal(oneErrorLine(forged).code, 'certificate_invalid');
    const unknown = await cli(['certificate', 'dc-000000000000000000000000']);
    assert.equal(oneErrorLine(unknown).code, 'certificate_not_found');
  });
});

describe('enclave migrate verify with more mismatches than one page', () => {
  const made = migrationEnclave(new Population(11, 500));

  it('lists every mismatch, page after page, as people read it and as --json (the same list)', async () => {
    const copied = await run(['migrate', 'run', '--config', made.config, '--mapping', made.mapping, '--dev-unseal', '--quiet']);
    assert.equal(copied.code, 0, copied.stderr);
    // Rows gone at the source since they were copied: each a mismatch (the state lists them 1,000 a page).
    const db = new DatabaseSync(made.legacy);
    const gone = (db.prepare('SELECT id FROM watch_events UNION ALL SELECT id FROM messages UNION ALL SELECT id FROM comments').all() as { id: string | number }[]).map((r) => String(r.id));
    db.exec('DELETE FROM watch_events; DELETE FROM messages; DELETE FROM comments');
    db.close();
    const json = await run(['migrate', 'verify', '--config', made.config, '--mapping', made.mapping, '--dev-unseal', '--quiet', '--json']);
    assert.equal(json.code, 1, json.stderr);
    const v = JSON.parse(json.stdout) as { ok: boolean; mismatches: number; mismatchList: { table: string; key: string; kind: string }[] };
    assert.equal(v.ok, false);
    assert.ok(v.mismatches > 1000, `only ${v.mismatches} mismatches: not more than one page`);
    assert.equal(v.mismatchList.length, v.mismatches);
    assert.deepEqual(new Set(v.mismatchList.map((m) => m.table)), new Set(['watch_events', 'messages', 'comments']));
    const human = await run(['migrate', 'verify', '--config', made.config, '--mapping', made.mapping, '--dev-unseal', '--quiet']);
    assert.equal(human.code, 1, human.stderr);
    const list = human.stdout.split('Mismatches (table, key, kind, detail):\n')[1] ?? '';
    const listed = list.split('\n').filter((l) => /^ {2}(watch_events|messages|comments) +/.test(l));
    assert.equal(listed.length, v.mismatches, human.stdout.slice(0, 2000));
    // Each line is one of the rows deleted, none twice.
    const keys = listed.map((l) => /"([^"]+)"/.exec(l)?.[1] ?? '');
    const deleted = new Set(gone);
    assert.ok(keys.every((k) => deleted.has(k)), 'a row listed that was not deleted');
    assert.equal(new Set(keys).size, keys.length, 'a row listed twice');
    assert.match(human.stdout, /Run `enclave migrate run` to copy the changed, missing and extra rows again, then verify\.\n$/);
  });
});
