// Issue 6, point 4, with real processes: three `enclave migrate run` processes on one migration, every
// enclave store and the migration state on PostgreSQL, the legacy source a SQLite file. One of them is
// SIGKILLed in the middle of its copy and started again. The batches are shared (several workers
// completed some; none was done twice), the batch the killed one held is taken over, and the end state
// equals a single uninterrupted run's on the embedded stores: the same subjects and records per site, the
// same ledger, and `enclave migrate verify` passes with the same rows per table.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { buildLegacySites } from '../../src/cli/demo/legacy-sites.ts';
import { Population } from '../../src/cli/demo/population.ts';
import { loadConfig } from '../../src/services/config-loader.ts';
import { openEnclave } from '../../src/services/enclave.ts';
import { CONFIG_FILE, initEnclave } from '../../src/services/init-service.ts';
import { openMigrationStateOf } from '../../src/services/migration/open-migration.ts';
import { starterConfig } from '../../src/services/starter-config.ts';
import { REPO, removeDir, tempDir } from '../cli/helpers.ts';
import { admin, dropSchemas, freshSchema, pgUrl, postgresConfig, postgresSkip } from '../helpers/postgres.ts';

const skip = await postgresSkip();
const MAIN = join(REPO, 'src', 'cli', 'main.ts');
const POPULATION = new Population(5, 200);
const BATCH = '10';

interface Outcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface Worker {
  readonly pid: number;
  /** Resolves at the first progress line: the process is copying. */
  readonly copying: Promise<void>;
  readonly done: Promise<Outcome>;
  signal(signal: NodeJS.Signals): void;
}

function migrate(dir: string, command: 'run' | 'verify'): Worker {
  const child = spawn(process.execPath, [MAIN, 'migrate', command, '--config', join(dir, CONFIG_FILE), '--mapping', join(dir, 'data', 'legacy', 'virginia.mapping.yaml'), '--dev-unseal', '--batch-size', BATCH, '--json'], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let copying!: () => void;
  const started = new Promise<void>((r) => (copying = r));
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    if (stderr.includes('{"progress"')) copying();
  });
  const done = new Promise<Outcome>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      copying();
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { pid: child.pid ?? 0, copying: started, done, signal: (sig) => child.kill(sig) };
}

/** What a run leaves, comparable between runs: subjects and records per site, the ledger, verify's rows per table. */
async function outcome(dir: string): Promise<unknown> {
  const config = loadConfig(join(dir, CONFIG_FILE));
  const enclave = await openEnclave(config);
  const state = await openMigrationStateOf(config);
  const counts: Record<string, unknown> = {};
  try {
    for (const [site, store] of enclave.sites) counts[site] = [await store.subjects.count(), await store.records.count()];
    const m = await state.get('virginia');
    // The pass number is not compared: a process started after the pass ended runs the next one.
    counts['pass'] = m?.passState;
    counts['ledger'] = await state.ledgerCount('virginia');
  } finally {
    await state.close();
    await enclave.close();
  }
  const v = await migrate(dir, 'verify').done;
  assert.equal(v.code, 0, v.stderr);
  const verification = JSON.parse(v.stdout) as { ok: boolean; mismatches: number; tables: { table: string; rows: number; records: number }[] };
  return { ...counts, ok: verification.ok, mismatches: verification.mismatches, tables: verification.tables.map((t) => [t.table, t.rows, t.records]) };
}

/** Resolves once no connection named `app` is executing a statement (its clients are stopped). */
async function quiet(app: string): Promise<void> {
  await setTimeout(100);
  for (let i = 0; i < 100; i++) {
    const active = await admin((c) => c.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'`, [app]));
    if (active.rows[0]?.n === '0') return;
    await setTimeout(50);
  }
  throw new Error('the stopped workers\' statements did not finish within 5 s');
}

async function enclaveDir(configure?: (yaml: string) => string): Promise<string> {
  const dir = tempDir('enclave-pmig-');
  if (configure) writeFileSync(join(dir, CONFIG_FILE), configure(starterConfig()));
  const init = await initEnclave(dir, { dev: true });
  buildLegacySites(join(init.dataDir, 'legacy'), POPULATION);
  return dir;
}

void describe('three migrate run processes on one migration, state and stores on PostgreSQL', { skip, timeout: 120_000 }, () => {
  const schemas = { control: freshSchema('pmig_control'), us: freshSchema('pmig_us'), eu: freshSchema('pmig_eu'), log: freshSchema('pmig_log') };
  const stateSchema = freshSchema('pmig_state');
  const dirs: string[] = [];
  let reference: unknown;

  before(async () => {
    // The reference: one uninterrupted run on the embedded stores.
    const dir = await enclaveDir();
    dirs.push(dir);
    const r = await migrate(dir, 'run').done;
    assert.equal(r.code, 0, r.stderr);
    reference = await outcome(dir);
  });
  after(async () => {
    for (const d of dirs) removeDir(d);
    await dropSchemas(...Object.values(schemas), stateSchema);
  });

  void it('claim disjoint batches, survive a SIGKILL of one, and end exactly where a single run ends', async (t) => {
    // Small pools: four processes at once share the server with the other test files. Their own
    // application_name tells their connections apart from other tests' on the server.
    const app = `pmig-${process.pid}`;
    const params = { pool_size: '2', application_name: app };
    const dir = await enclaveDir((yaml) => `${postgresConfig(yaml, schemas, params)}\nmigration:\n  state: ${JSON.stringify(pgUrl(stateSchema, params))}\n`);
    dirs.push(dir);
    const workers = [migrate(dir, 'run'), migrate(dir, 'run'), migrate(dir, 'run')];
    const victim = workers[0] as Worker;
    await victim.copying;
    // All frozen, then wait for the statements they had sent to finish: the batches the victim holds
    // now are the ones it dies with (a completion already on the wire when it stopped still commits).
    for (const w of workers) w.signal('SIGSTOP');
    await quiet(app);
    const heldRows = await admin((c) => c.query<{ seq: number }>(`SELECT seq FROM ${stateSchema}.mig_batches WHERE state = 'running' AND claimed_by LIKE $1`, [`%:${victim.pid}:%`]));
    victim.signal('SIGKILL');
    for (const w of workers.slice(1)) w.signal('SIGCONT');
    const killed = await victim.done;
    assert.equal(killed.signal, 'SIGKILL', `the victim finished before the kill (exit ${String(killed.code)}): ${killed.stderr.slice(-300)}`);
    const restarted = migrate(dir, 'run');
    const results = await Promise.all([...workers.slice(1), restarted].map((w) => w.done));
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    assert.ok(results.some((r) => (JSON.parse(r.stdout) as { complete: boolean }).complete), 'a worker finished the pass');

    const batches = await admin(async (c) => (await c.query<{ seq: number; state: string; claimed_by: string }>(`SELECT seq, state, claimed_by FROM ${stateSchema}.mig_batches WHERE pass = 1 ORDER BY seq`)).rows);
    assert.ok(batches.length > 10, `${batches.length} batches`);
    assert.deepEqual(batches.filter((b) => b.state !== 'done'), [], 'every batch done');
    const byWorker = new Map<string, number>();
    for (const b of batches) byWorker.set(b.claimed_by, (byWorker.get(b.claimed_by) ?? 0) + 1);
    assert.ok(byWorker.size >= 2, `the batches were shared among the processes: ${[...byWorker.values()].join(', ')}`);
    t.diagnostic(`batches per worker: ${[...byWorker.values()].join(', ')}; held by the killed process: ${heldRows.rows.map((r) => r.seq).join(', ') || 'none'}`);
    for (const { seq } of heldRows.rows) {
      const b = batches.find((x) => x.seq === seq);
      assert.ok(b && !b.claimed_by.includes(`:${victim.pid}:`), `batch ${seq}, held by the killed process, was taken over and completed by another`);
    }

    assert.deepEqual(await outcome(dir), reference);
  });
});
