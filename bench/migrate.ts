// `npm run bench:migrate`: end-to-end migration throughput (read, map, digest, seal, write, ledger) from
// a legacy SQLite file and from PostgreSQL into the embedded store, beside a plain copy of the same rows
// between the same engines, and the migrating process's peak RSS from 100,000 to 5,000,000 source rows.
// Every step runs in its own process (bench/migrate/worker.ts). The figures go to their section of
// docs/benchmarks.md; --quick (small sizes, for development) writes bench/.work/migrate-quick.md instead.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withCompileCache } from '../bin/compile-cache.js';
import type { ProcessResources } from '../src/cli/process-resources.ts';
import { initEnclave } from '../src/services/init-service.ts';
import { describeMachine } from './machine.ts';
import { dropPostgresSource, usersFor, writeMapping, writePostgresSource, writeSqliteSource } from './migrate/legacy-data.ts';
import type { StepResult } from './migrate/worker.ts';
import { parseBenchArgs } from './options.ts';
import { MIGRATE_SECTION, replaceSection } from './report-sections.ts';

const WORK = join(import.meta.dirname, '.work', 'migrate');
const DOCS = join(import.meta.dirname, '..', 'docs', 'benchmarks.md');
const QUICK_REPORT = join(import.meta.dirname, '.work', 'migrate-quick.md');
const WORKER = join(import.meta.dirname, 'migrate', 'worker.ts');
const ENCLAVE = join(import.meta.dirname, '..', 'bin', 'enclave.js');
// Rows per batch, for the migration and the copy alike (the worker reads the same variable).
const BATCH = Number(process.env['BENCH_BATCH'] ?? 5000);
// "300 MB" read strictly: 300,000,000 bytes (286.1 MiB).
const TARGETS = { sqlite: 100_000, postgres: 50_000, rssBytes: 300_000_000 } as const;

const USAGE = `usage: npm run bench:migrate [-- --quick] [-- --sizes=100000,1000000,5000000] [-- --engines=sqlite,postgres] [-- --pg-url=<url>]

  --quick     20,000 and 50,000 rows, report to bench/.work/migrate-quick.md (docs/benchmarks.md is kept)
  --docs      with --quick: write the section of docs/benchmarks.md anyway, marked as a quick run
  --sizes     source rows per run (default 100000,1000000,5000000)
  --engines   sqlite, postgres or both (default both); PostgreSQL at --pg-url (a scratch schema is created)
`;

const values = parseBenchArgs(USAGE, {
  quick: { type: 'boolean', default: false },
  docs: { type: 'boolean', default: false },
  sizes: { type: 'string' },
  engines: { type: 'string', default: 'sqlite,postgres' },
  'pg-url': { type: 'string', default: process.env['ENCLAVE_BENCH_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test' },
  help: { type: 'boolean', default: false },
});
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const sizes = (values.sizes ?? (values.quick ? '20000,50000' : '100000,1000000,5000000')).split(',').map(Number);
const engines = (values.engines ?? '').split(',').filter((e): e is 'sqlite' | 'postgres' => e === 'sqlite' || e === 'postgres');
const pgUrl = values['pg-url'] ?? '';

function copyStep(args: readonly string[]): StepResult {
  // With Node's compile cache, as bin/enclave.js runs `enclave migrate run`.
  const out = execFileSync(process.execPath, [WORKER, ...args], { encoding: 'utf8', maxBuffer: 1 << 20, env: withCompileCache() });
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as StepResult;
}

interface CliRunReport {
  readonly complete: boolean;
  readonly counters: { readonly copied: number; readonly refused: number };
  readonly resources: ProcessResources;
}

/**
 * `enclave migrate run` as an operator runs it, in a process of its own: its wall time and CPU from the
 * migration's start (after the shares were checked) to its result, and the process's peak RSS, as the command reports them.
 */
function migrateStep(configPath: string, mapping: string): StepResult {
  const args = [ENCLAVE, '--config', configPath, 'migrate', 'run', '--mapping', mapping, '--dev-unseal', '--json', '--quiet', '--batch-size', String(BATCH)];
  const out = execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 16 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  const report = JSON.parse(out) as CliRunReport;
  if (report.counters.refused > 0 || !report.complete) throw new Error(`the benchmark migration ${report.complete ? `refused ${report.counters.refused} rows` : 'did not complete'}`);
  const { ms, cpuMs, peakRssBytes } = report.resources;
  return { rows: report.counters.copied, ms, cpuMs, peakRssBytes };
}

interface Row {
  readonly engine: 'sqlite' | 'postgres';
  readonly rows: number;
  readonly migrate: StepResult;
  readonly copy: StepResult;
  readonly storeBytes: number;
}

const perSecond = (s: StepResult) => (s.rows / s.ms) * 1000;
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
const n = (x: number) => Math.round(x).toLocaleString('en-US');

async function measure(engine: 'sqlite' | 'postgres', rows: number): Promise<Row> {
  const dir = join(WORK, `${engine}-${rows}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const users = usersFor(rows);
  const init = await initEnclave(join(dir, 'enclave'), { dev: true, name: 'bench' });
  let source: string;
  let copyArgs: string[];
  const cache = join(WORK, 'sources', `sqlite-${users}.db`);
  if (engine === 'sqlite') {
    if (!existsSync(cache)) {
      process.stderr.write(`  generating a SQLite source of ${n(users * 10)} rows\n`);
      writeSqliteSource(cache, users);
    }
    source = `{ sqlite: "${cache}" }`;
    copyArgs = ['copy', 'sqlite', cache, '-', join(dir, 'copy.db')];
  } else {
    const schema = `bench_migrate_${users}`;
    process.stderr.write(`  loading ${n(users * 10)} rows into PostgreSQL (schema ${schema})\n`);
    await writePostgresSource(pgUrl, schema, users);
    source = `{ postgres: { url: "${pgUrl}", schema: ${schema} } }`;
    copyArgs = ['copy', 'postgres', pgUrl, schema, join(dir, 'copy.db')];
  }
  const mapping = join(dir, 'mapping.yaml');
  writeMapping(mapping, source);
  // Alternate nothing: the copy first (it warms the page cache of a SQLite source for both).
  let copy: StepResult;
  let migrate: StepResult;
  try {
    copy = copyStep(copyArgs);
    migrate = migrateStep(init.configPath, mapping);
  } finally {
    if (engine === 'postgres') await dropPostgresSource(pgUrl, `bench_migrate_${users}`);
  }
  const storeBytes = ['trusted-us', 'eu-central'].reduce((s, site) => s + statSync(join(init.dataDir, 'sites', `${site}.db`)).size, 0);
  rmSync(join(dir, 'copy.db'), { force: true });
  return { engine, rows, migrate, copy, storeBytes };
}

function render(results: readonly Row[], quick: boolean): string {
  const m = describeMachine();
  const lines = [
    MIGRATE_SECTION.start,
    '## Migration (`npm run bench:migrate`)',
    '',
    `<!-- Generated by \`npm run bench:migrate${quick ? ' -- --quick' : ''}\` (bench/migrate.ts) on ${new Date().toISOString()}. -->`,
    '',
    ...(quick ? [`**A quick run** (${sizes.map(n).join(' and ')} rows) on a machine shared with other work: the figures of record come from \`npm run bench:migrate\` (100,000 to 5,000,000 rows).`, ''] : []),
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, SQLite ${m.sqlite}. Source: one \`accounts\` row and nine \`messages\` per user (80 % US, 20 % DE: every row moves, both home sites are written), mapped as in \`bench/migrate/legacy-data.ts\`; batches of ${n(BATCH)} rows.`,
    '',
    '- **Migration** is `enclave migrate run` itself, in a process of its own (`--dev-unseal --json`; rows/s and CPU of the whole process from the migration\'s start to its result, as the command reports them), with its whole path per row: keyset read, subject join (one `IN` query a page), mapping and validation, canonical form and HMAC digest, vault write (a decision per subject and field set, the subjects and the ids held at the other home site looked up once a page, residency, AES-256-GCM seal under the subject\'s key, one transaction a page a site), a transparency-log entry per subject and page, ledger row, batch state — durable (`synchronous = FULL`) at every step.',
    '- **Plain copy** reads the same rows the same way and inserts them unchanged into a SQLite file in the same durability (WAL, `synchronous = FULL`, one transaction a page): what moving the bytes costs on these engines with nothing else.',
    '- **Peak RSS** is each process\'s own high-water mark (getrusage\'s `ru_maxrss`, VmHWM), read by itself at the end: for the migration, the `enclave migrate run` process, which runs the migration on its main thread (with `--max-old-space-size=224 --max-semi-space-size=4`).',
    '',
    '| Source | Rows | Migration rows/s | Plain copy rows/s | Ratio | Migration CPU / row | Peak RSS (migration) | Peak RSS (copy) | Vault size |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...results.map((r) => `| ${r.engine === 'sqlite' ? 'SQLite file' : 'PostgreSQL'} | ${n(r.rows)} | ${n(perSecond(r.migrate))} | ${n(perSecond(r.copy))} | ${(perSecond(r.migrate) / perSecond(r.copy)).toFixed(2)} | ${(r.migrate.cpuMs * 1000 / r.rows).toFixed(1)} µs | ${mib(r.migrate.peakRssBytes)} | ${mib(r.copy.peakRssBytes)} | ${mib(r.storeBytes)} |`),
    '',
    '| Target | Measured | Met |',
    '|---|---|---|',
  ];
  for (const engine of ['sqlite', 'postgres'] as const) {
    const best = results.filter((r) => r.engine === engine).map((r) => perSecond(r.migrate));
    if (best.length > 0) {
      const worst = Math.min(...best);
      lines.push(`| ≥ ${n(TARGETS[engine])} rows/s from ${engine === 'sqlite' ? 'SQLite' : 'PostgreSQL'} | ${n(worst)} rows/s (lowest over the sizes) | ${worst >= TARGETS[engine] ? 'yes' : '**no**'} |`);
    }
  }
  if (results.length > 0) {
    const peak = Math.max(...results.map((r) => r.migrate.peakRssBytes));
    const spread = results.map((r) => r.migrate.peakRssBytes);
    lines.push(`| peak RSS < 300 MB (${mib(TARGETS.rssBytes)}), flat over the sizes | ${mib(Math.min(...spread))} to ${mib(peak)} | ${peak < TARGETS.rssBytes ? 'yes' : '**no**'} |`);
  }
  lines.push('', MIGRATE_SECTION.end);
  return lines.join('\n');
}

mkdirSync(WORK, { recursive: true });
const results: Row[] = [];
for (const engine of engines) {
  for (const rows of sizes) {
    process.stderr.write(`${engine}, ${n(rows)} rows\n`);
    const r = await measure(engine, rows);
    process.stderr.write(`  migration ${n(perSecond(r.migrate))} rows/s, plain copy ${n(perSecond(r.copy))} rows/s, peak RSS ${mib(r.migrate.peakRssBytes)}\n`);
    results.push(r);
  }
}
const section = render(results, values.quick === true);
if (values.quick === true && values.docs !== true) {
  mkdirSync(join(WORK, '..'), { recursive: true });
  writeFileSync(QUICK_REPORT, `${section}\n`);
  process.stdout.write(`${section}\n\n(--quick: written to ${QUICK_REPORT}; docs/benchmarks.md is unchanged)\n`);
} else {
  writeFileSync(DOCS, replaceSection(existsSync(DOCS) ? readFileSync(DOCS, 'utf8') : '# Benchmarks\n', MIGRATE_SECTION, section));
  process.stdout.write(`${section}\n`);
}
