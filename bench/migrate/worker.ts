// The baseline step of the migration benchmark, in a process of its own so its peak RSS (VmHWM) is its
// own: `copy` moves the rows the migration moves between the same engines with no enclave at all. (The
// migration step is `enclave migrate run` itself: bench/migrate.ts.) Prints one JSON line.
import { readFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import type { KeyTuple, MigrationSource } from '../../src/core/migration-source.ts';
import { PostgresSource } from '../../src/storage/sources/postgres-source.ts';
import { SqliteSource } from '../../src/storage/sources/sqlite-source.ts';

export interface StepResult {
  readonly rows: number;
  readonly ms: number;
  readonly peakRssBytes: number;
  readonly cpuMs: number;
}

function peakRss(): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const TABLES = [
  { name: 'accounts', key: ['id'], columns: ['id', 'uid', 'handle', 'email', 'phone', 'birthdate', 'country'] },
  { name: 'messages', key: ['id'], columns: ['id', 'sender_account', 'recipient_uid', 'body', 'sent_at'] },
] as const;

/** The baseline: the same rows, read the same way (keyset pages), written to SQLite as they are, durably. */
async function copy(source: MigrationSource, destPath: string, batchSize: number): Promise<StepResult> {
  const db = new DatabaseSync(destPath);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = FULL');
  db.exec('CREATE TABLE accounts (id INTEGER PRIMARY KEY, uid TEXT, handle TEXT, email TEXT, phone TEXT, birthdate TEXT, country TEXT)');
  db.exec('CREATE TABLE messages (id INTEGER PRIMARY KEY, sender_account INTEGER, recipient_uid TEXT, body TEXT, sent_at TEXT)');
  const cpu = cpuMs();
  const started = performance.now();
  let rows = 0;
  for (const t of TABLES) {
    const insert = db.prepare(`INSERT INTO ${t.name} VALUES (${t.columns.map(() => '?').join(', ')})`);
    let after: KeyTuple | undefined;
    for (;;) {
      const page = await source.read({ table: t.name, columns: t.columns, key: t.key, after, limit: batchSize });
      const last = page.at(-1);
      if (!last) break;
      db.exec('BEGIN');
      for (const r of page) insert.run(...t.columns.map((c) => (r[c] ?? null) as string | number | null));
      db.exec('COMMIT');
      rows += page.length;
      if (page.length < batchSize) break;
      after = [last['id'] as number];
    }
  }
  const ms = performance.now() - started;
  db.close();
  return { rows, ms, peakRssBytes: peakRss(), cpuMs: cpuMs() - cpu };
}

const [mode, a, b, c, d] = process.argv.slice(2);
const batchSize = Number(process.env['BENCH_BATCH'] ?? 5000);
let result: StepResult;
if (mode === 'copy') {
  const source = a === 'postgres' ? await PostgresSource.open(b ?? '', c ?? 'public') : new SqliteSource(b ?? '');
  try {
    result = await copy(source, d ?? '', batchSize);
  } finally {
    await source.close();
  }
} else throw new Error('usage: worker.ts copy sqlite <src.db> - <dest.db> | copy postgres <url> <schema> <dest.db>');
process.stdout.write(`${JSON.stringify(result)}\n`);
