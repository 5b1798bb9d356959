// `npm run bench:scale [-- --quick]`: the scale-out benchmark (issue 6, point 6). Beside the embedded
// store's figures, on PostgreSQL with one and with two gateway instances:
//  1. gated reads/s through the real server processes (bench/server-main.ts gated, as `npm run bench`
//     runs them), autocannon in this process spreading its connections over the instances; every read
//     appends its access.decision entry to the transparency log before it answers;
//  2. durable log appends/s: one LogService per instance in a process of its own (scale-appender.ts),
//     all appending to one log at once with group commit, one of them integrating and signing.
// Full runs write their section of docs/benchmarks.md; --quick writes bench/.work/benchmarks-scale-quick.md.
// PostgreSQL: ENCLAVE_BENCH_POSTGRES_URL (without `schema`), default postgres://postgres@127.0.0.1:5432/test.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { CONFIG_FILE } from '../src/services/init-service.ts';
import { starterConfig } from '../src/services/starter-config.ts';
import { BENCH_PURPOSE, type DatasetSpec } from './dataset.ts';
import { runLoad, type LoadResult, type LoadSettings } from './load.ts';
import { waitForQuiet } from './machine-load.ts';
import { describeMachine } from './machine.ts';
import { parseQuick } from './options.ts';
import { requestPaths } from './request-paths.ts';
import type { AppenderMessage, AppenderResult } from './scale-appender.ts';
import { renderScaleSection, type AppendRun, type ReadRun, type ScaleReport } from './scale-report.ts';
import { SCALE_SECTION, writeSection } from './report-sections.ts';
import { seedEnclave } from './seed.ts';
import { startServerProcess, type ServerProcess } from './server-process.ts';

const USAGE = `usage: npm run bench:scale [-- --quick]

  --quick   10,000 records, one round of 3 s reads and 3 s of appends per set-up: a sanity check; the
            report goes to bench/.work/benchmarks-scale-quick.md instead of docs/benchmarks.md
  --help    this text

PostgreSQL: ENCLAVE_BENCH_POSTGRES_URL (no schema parameter), default postgres://postgres@127.0.0.1:5432/test;
the benchmark works in schemas of its own (enclave_bench_…) and drops them at the end.
`;

const quick = parseQuick(USAGE);
const ROOT = join(import.meta.dirname, '..');
const WORK = join(import.meta.dirname, '.work', 'scale-bench');
const PG_URL = process.env['ENCLAVE_BENCH_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const SPEC: DatasetSpec = quick ? { subjects: 2_000, recordsPerSubject: 5 } : { subjects: 20_000, recordsPerSubject: 10 };
const LOAD: LoadSettings = quick ? { connections: 10, pipelining: 1, durationSeconds: 3, warmupSeconds: 1 } : { connections: 10, pipelining: 1, durationSeconds: 10, warmupSeconds: 3 };
const ROUNDS = quick ? 1 : 3;
const APPEND_SECONDS = quick ? 3 : 10;
/** Concurrent appenders in all, split over the instances. */
const APPEND_CALLERS = 1000;
/** Connections per store and instance: two instances of four stores stay well under max_connections. */
const POOL_SIZE = '5';
const QUIET_PERCENT = 15;
const QUIET_WAIT_SECONDS = quick ? 20 : 120;

const say = (line: string) => process.stderr.write(`${line}\n`);
const tag = randomBytes(4).toString('hex');
const schemas: string[] = [];

function pgUrl(label: string): string {
  const schema = `enclave_bench_${tag}_${label}`;
  schemas.push(schema);
  const u = new URL(PG_URL);
  u.searchParams.set('schema', schema);
  u.searchParams.set('pool_size', POOL_SIZE);
  return u.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Seeds an enclave whose stores `storage` names (starter URL → this one); returns its configuration and a service token. */
async function seedScaleEnclave(label: string, storage: Readonly<Record<string, string>>): Promise<{ configPath: string; token: string }> {
  const dir = join(WORK, label);
  mkdirSync(dir, { recursive: true });
  let yaml = starterConfig({ name: 'bench' });
  for (const [from, to] of Object.entries(storage)) yaml = yaml.replace(`storage: ${from}`, `storage: ${JSON.stringify(to)}`);
  writeFileSync(join(dir, CONFIG_FILE), yaml);
  say(`${label}: seeding ${(SPEC.subjects * SPEC.recordsPerSubject).toLocaleString('en-US')} records`);
  return seedEnclave(dir, SPEC, ({ configPath, token }) => Promise.resolve({ configPath, token }));
}

async function quiet(label: string): Promise<void> {
  const calm = await waitForQuiet(QUIET_PERCENT, QUIET_WAIT_SECONDS, (busy) => say(`${label}: waiting for the machine to go quiet (others use ${busy.toFixed(0)} % of a core)`));
  if (!calm.quiet) say(`${label}: the machine did not go quiet; measuring anyway`);
}

/** Reads spread over `instances` server processes of one enclave; each round keeps the best. */
async function reads(label: string, configPath: string, token: string, instances: number): Promise<ReadRun> {
  const servers: ServerProcess[] = [];
  try {
    for (let i = 0; i < instances; i++) servers.push(await startServerProcess('gated', configPath));
    const paths = { warmup: requestPaths(SPEC, 20_000, 0x3a11), measured: requestPaths(SPEC, 200_000) };
    const headers = { authorization: `Bearer ${token}`, 'enclave-purpose': BENCH_PURPOSE };
    const per: LoadSettings = { ...LOAD, connections: Math.max(1, Math.round(LOAD.connections / instances)) };
    let best: ReadRun | undefined;
    for (let round = 1; round <= ROUNDS; round++) {
      await quiet(label);
      const loads = await Promise.all(servers.map((s) => runLoad(s, paths, headers, per)));
      const run = combine(label, instances, loads);
      say(`${label}, round ${round}: ${Math.round(run.readsPerSecond).toLocaleString('en-US')} reads/s, p99 ${run.latencyP99Ms} ms, ${run.serverCpuMicrosPerRead.toFixed(0)} µs server CPU per read`);
      if (!best || run.readsPerSecond > best.readsPerSecond) best = run;
    }
    if (!best) throw new Error('no round ran');
    return best;
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

function combine(label: string, instances: number, loads: readonly LoadResult[]): ReadRun {
  const reads = loads.reduce((n, l) => n + l.requests, 0);
  const serverCpuSeconds = loads.reduce((n, l) => n + (l.serverCpuMicrosPerRequest * l.requests) / 1e6, 0);
  const seconds = Math.max(...loads.map((l) => l.durationSeconds));
  const serverPercent = loads.reduce((n, l) => n + l.serverCpuPercent, 0);
  // Each load run counts the other instances' servers as "other processes": take them out again.
  const others = Math.min(...loads.map((l) => l.otherCpuPercent + l.serverCpuPercent)) - serverPercent;
  return {
    label,
    instances,
    readsPerSecond: loads.reduce((n, l) => n + l.requestsPerSecond, 0),
    latencyP50Ms: Math.max(...loads.map((l) => l.latencyP50Ms)),
    latencyP99Ms: Math.max(...loads.map((l) => l.latencyP99Ms)),
    non2xx: loads.reduce((n, l) => n + l.non2xx + l.errors, 0),
    serverCpuMicrosPerRead: reads > 0 ? (serverCpuSeconds / reads) * 1e6 : Number.NaN,
    serverCpuPercent: serverPercent,
    generatorCpuPercent: Math.max(...loads.map((l) => l.generatorCpuPercent)),
    otherCpuPercent: Math.max(0, others),
    seconds,
  };
}

function appender(url: string, dir: string, instance: string, integrate: boolean, callers: number, root: string): { ready: Promise<void>; go(): Promise<AppenderResult>; stop(): Promise<void> } {
  const child = fork(join(import.meta.dirname, 'scale-appender.ts'), [url, dir, instance, integrate ? '1' : '0', String(APPEND_SECONDS), String(callers), root], {
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = <T extends AppenderMessage['type']>(type: T) =>
    new Promise<Extract<AppenderMessage, { type: T }>>((resolve, reject) => {
      const onMessage = (m: AppenderMessage) => {
        if (m.type === 'failed') reject(new Error(`${instance}: ${m.message}`));
        else if (m.type === type) resolve(m as Extract<AppenderMessage, { type: T }>);
        else return;
        child.off('message', onMessage);
      };
      child.on('message', onMessage);
      child.once('exit', (code) => reject(new Error(`${instance} exited (${String(code)}) while waiting for "${type}"`)));
    });
  const ready = next('ready').then(() => undefined);
  return {
    ready,
    async go() {
      const done = next('done');
      child.send('go');
      return (await done).result;
    },
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      if (child.connected) child.send('stop');
      await exited;
    },
  };
}

/** Durable appends from `instances` processes at once into one log (the first one integrates and signs). */
async function appends(label: string, url: string, instances: number): Promise<AppendRun> {
  const dir = join(WORK, `appends-${label.replace(/\W+/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  const root = randomBytes(32).toString('hex');
  const workers = Array.from({ length: instances }, (_, i) => appender(url, dir, `append-${i + 1}`, i === 0, Math.round(APPEND_CALLERS / instances), root));
  try {
    await Promise.all(workers.map((w) => w.ready));
    await quiet(label);
    const results = await Promise.all(workers.map((w) => w.go()));
    const appended = results.reduce((n, r) => n + r.appends, 0);
    const seconds = Math.max(...results.map((r) => r.seconds));
    const run: AppendRun = { label, instances, appendsPerSecond: appended / seconds, perInstance: results, seconds };
    say(`${label}: ${Math.round(run.appendsPerSecond).toLocaleString('en-US')} durable appends/s`);
    return run;
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

async function main(): Promise<void> {
  try {
    await admin((c) => c.query('SELECT 1'));
  } catch (err) {
    say(`PostgreSQL is not reachable at ${new URL(PG_URL).host} (${err instanceof Error ? err.message : String(err)}); set ENCLAVE_BENCH_POSTGRES_URL`);
    process.exit(1);
  }
  rmSync(WORK, { recursive: true, force: true });
  try {
    const embedded = await seedScaleEnclave('embedded', {});
    const postgres = await seedScaleEnclave('postgres', {
      'sqlite:control.db': pgUrl('control'),
      'sqlite:sites/trusted-us.db': pgUrl('us'),
      'sqlite:sites/eu-central.db': pgUrl('eu'),
      'sqlite:log.db': pgUrl('log'),
    });
    const readRuns = [
      await reads('embedded (SQLite), 1 instance', embedded.configPath, embedded.token, 1),
      await reads('PostgreSQL, 1 instance', postgres.configPath, postgres.token, 1),
      await reads('PostgreSQL, 2 instances', postgres.configPath, postgres.token, 2),
    ];
    const appendRuns = [
      await appends('embedded (SQLite), 1 instance', 'sqlite:log.db', 1),
      await appends('PostgreSQL, 1 instance', pgUrl('append_1'), 1),
      await appends('PostgreSQL, 2 instances', pgUrl('append_2'), 2),
    ];
    const serverVersion = await admin(async (c) => String((await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v));
    const report: ScaleReport = {
      command: `npm run bench:scale${quick ? ' -- --quick' : ''}`,
      when: new Date(),
      quick,
      machine: describeMachine(),
      postgres: serverVersion,
      spec: SPEC,
      load: LOAD,
      rounds: ROUNDS,
      appendCallers: APPEND_CALLERS,
      poolSize: Number(POOL_SIZE),
      reads: readRuns,
      appends: appendRuns,
    };
    const section = renderScaleSection(report);
    const out = quick ? join(import.meta.dirname, '.work', 'benchmarks-scale-quick.md') : join(ROOT, 'docs', 'benchmarks.md');
    writeSection(out, SCALE_SECTION, section);
    process.stdout.write(`${section}\n\nwritten to ${out}\n`);
  } finally {
    await admin(async (c) => {
      for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(s)} CASCADE`);
    });
    rmSync(WORK, { recursive: true, force: true });
  }
}

await main();
