// A real enclave (test/helpers/fixture.ts) with the demo's legacy SQLite sites built beside it, and the
// migration of one of them opened: what the migration tests start from; and what they do to a legacy
// site (read or edit its database, export it to JSON Lines) and expect of a refusal.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { EnclaveError, type ErrorCode } from '../../src/core/errors.ts';
import type { EventLog, LogEventInput, LogReceipt } from '../../src/core/event-log.ts';
import type { MigrationStateStore } from '../../src/core/migration-state.ts';
import { buildLegacySites, type LegacyBuild } from '../../src/cli/demo/legacy-sites.ts';
import { Population } from '../../src/cli/demo/population.ts';
import type { MigrationContext } from '../../src/services/migration/migration-context.ts';
import { openMigration, type OpenMigrationOptions } from '../../src/services/migration/open-migration.ts';
import { SqliteMigrationState } from '../../src/storage/sqlite/sqlite-migration-state.ts';
import { makeFixture, type Fixture } from './fixture.ts';

/** Keeps the events appended, in order, as the transparency log will. */
export class RecordingLog implements EventLog {
  readonly events: LogEventInput[] = [];

  append(event: LogEventInput): Promise<LogReceipt> {
    this.events.push(event);
    return Promise.resolve({ index: this.events.length - 1 });
  }
}

export interface MigrationHarness {
  readonly fx: Fixture;
  readonly population: Population;
  readonly builds: readonly LegacyBuild[];
  readonly state: MigrationStateStore;
  readonly log: RecordingLog;
  /** Opens the migration of a mapping (default: the first legacy site's); closed by `close`. */
  open(mappingPath?: string, options?: { batchSize?: number; openSource?: OpenMigrationOptions['openSource'] }): Promise<MigrationContext>;
  close(): Promise<void>;
}

export async function migrationHarness(users = 60, seed = 7): Promise<MigrationHarness> {
  const fx = await makeFixture();
  const population = new Population(seed, users);
  const builds = buildLegacySites(join(fx.dir, 'legacy'), population);
  const state = new SqliteMigrationState(join(fx.dataDir, 'migration-state.db'));
  const log = new RecordingLog();
  const opened: { close(): Promise<void> }[] = [];
  return {
    fx,
    population,
    builds,
    state,
    log,
    async open(mappingPath = builds[0]?.mappingPath ?? '', options = {}) {
      const o = await openMigration(fx.enclave, state, { mappingPath, log, batchSize: options.batchSize ?? 7, ...(options.openSource ? { openSource: options.openSource } : {}) });
      opened.push(o);
      return o.ctx;
    },
    async close() {
      for (const o of opened) await o.close();
      await state.close();
      await fx.close();
    },
  };
}

/** Records in every site of the vault. */
export async function vaultRecords(h: MigrationHarness): Promise<number> {
  let n = 0;
  for (const store of h.fx.enclave.sites.values()) n += await store.records.count();
  return n;
}

/** For `assert.rejects`: an EnclaveError of `code` (whose message matches `pattern`, if given). */
export const fails = (code: ErrorCode, pattern?: RegExp) => (err: unknown) => err instanceof EnclaveError && err.code === code && (pattern === undefined || pattern.test(err.message));

/** Every row of every table of a SQLite file, as text, for before/after comparisons. */
export function dumpSqlite(path: string): Map<string, string[]> {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const out = new Map<string, string[]>();
    for (const t of db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").all() as { name: string }[]) {
      out.set(t.name, (db.prepare(`SELECT * FROM "${t.name}" ORDER BY 1`).all() as object[]).map((r) => JSON.stringify(r)));
    }
    return out;
  } finally {
    db.close();
  }
}

/** Changes a SQLite file on a connection of its own, closed afterwards (the legacy application's write). */
export function editSqlite(path: string, change: (db: DatabaseSync) => void): void {
  const db = new DatabaseSync(path);
  try {
    change(db);
  } finally {
    db.close();
  }
}

/** The key each table of the demo's legacy sites is exported in order of, as JSON Lines. */
export const JSONL_KEYS: Readonly<Record<string, string>> = { accounts: 'user_uid', devices: 'id', messages: 'id', watch_events: 'id', videos: 'id', comments: 'id' };

export interface JsonlExport {
  readonly dir: string;
  readonly mappingPath: string;
}

/**
 * Exports legacy site `build` to JSON Lines in `<fixture dir>/<name>` and writes a mapping of its own
 * migration `<site>-<name>`. `prepare`, if given, first changes the site's database on the connection
 * the export reads (opened writable only then); what it returns is handed back as `prepared`.
 */
export function exportJsonl(h: MigrationHarness, build: number, name: string): JsonlExport;
export function exportJsonl<T>(h: MigrationHarness, build: number, name: string, prepare: (db: DatabaseSync) => T): JsonlExport & { readonly prepared: T };
export function exportJsonl<T>(h: MigrationHarness, build: number, name: string, prepare?: (db: DatabaseSync) => T): JsonlExport & { readonly prepared?: T } {
  const b = h.builds[build];
  if (!b) throw new Error(`no legacy site ${build}`);
  const dir = join(h.fx.dir, name);
  mkdirSync(dir);
  const db = prepare ? new DatabaseSync(b.path) : new DatabaseSync(b.path, { readOnly: true });
  const prepared = prepare?.(db);
  for (const [table, key] of Object.entries(JSONL_KEYS)) {
    const rows = db.prepare(`SELECT * FROM ${table} ORDER BY ${key}`).all();
    writeFileSync(join(dir, `${table}.jsonl`), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  }
  db.close();
  const mapping = readFileSync(b.mappingPath, 'utf8')
    .replace(`name: ${b.site}`, `name: ${b.site}-${name}`)
    .replace(`sqlite: ${b.site}.db`, `jsonl: ../${name}`)
    .replace(/    subject: \{ join: (\w+) \}\n/g, '    key: [id]\n    subject: { join: $1 }\n')
    .replace(/    subject: (owner_uid|author_uid)\n/g, '    key: [id]\n    subject: $1\n');
  const mappingPath = join(h.fx.dir, 'legacy', `${name}.mapping.yaml`);
  writeFileSync(mappingPath, mapping);
  return prepare ? { dir, mappingPath, prepared } : { dir, mappingPath };
}

/**
 * A small SQLite source, `<name>.db` in the fixture's directory, made by `sql` (its tables `accounts`
 * (handle, user_uid, email, country) and `messages` (id, sender, body, recipient, sent_at)), with its
 * mapping: accounts are the subjects, keyed by handle, and messages join theirs by sender. Both tables'
 * records get hashed ids. Returns the database's and the mapping's paths.
 */
export function handleJoinedSource(h: MigrationHarness, name: string, sql: string): { readonly dbPath: string; readonly mappingPath: string } {
  const dbPath = join(h.fx.dir, `${name}.db`);
  const db = new DatabaseSync(dbPath);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
  const mappingPath = join(h.fx.dir, `${name}.mapping.yaml`);
  writeFileSync(
    mappingPath,
    `version: 1
name: ${name}
source: { sqlite: ${JSON.stringify(dbPath)} }
subjects: { table: accounts, id: user_uid, key: handle, country: country }
tables:
  - table: accounts
    collection: users
    record_id: hash
    fields: { user_id: user_uid, username: handle, email: email }
  - table: messages
    collection: messages
    record_id: hash
    subject: { join: sender }
    fields: { body: body, recipient_id: recipient, sent_at: sent_at }
`,
  );
  return { dbPath, mappingPath };
}

/**
 * The mapping of the tables `<prefix>accounts` and `<prefix>messages` the server tests create (messages
 * find their subject through sender_account). Record ids are hashed when `hashIds` or a prefix is given:
 * prefixed tables need ids of their own, since ids are unique across the vault.
 */
export function accountsMessagesMapping(name: string, source: string, options: { readonly prefix?: string; readonly hashIds?: boolean } = {}): string {
  const prefix = options.prefix ?? '';
  const ids = prefix === '' && options.hashIds !== true ? '' : '\n    record_id: hash';
  return `version: 1
name: ${name}
source: ${source}
subjects: { table: ${prefix}accounts, id: user_uid, key: id, country: { expr: "upper(country_code)" } }
tables:
  - table: ${prefix}accounts
    collection: users
    key: [user_uid]${ids}
    fields: { user_id: user_uid, username: handle, email: email }
  - table: ${prefix}messages
    collection: messages
    subject: { join: sender_account }${ids}
    fields: { recipient_id: recipient_uid, body: body, sent_at: sent_at }
`;
}
