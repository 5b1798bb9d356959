// Applies the pending migrations of one store's schema in a single transaction, under an advisory lock
// per schema: instances starting at once queue here, the first one migrates, the others then find
// nothing left to do. A history that disagrees with this build is refused (core/migration-plan.ts)
// and, like a migration that fails, leaves the database exactly as it was (PostgreSQL DDL is transactional).
// Each store keeps its own history table (the vault store's `schema_migrations`, the log's
// `log_schema_migrations`), so two stores may share a schema; the lock is per schema, so they queue.
import { readFileSync } from 'node:fs';
import { EnclaveError } from '../../core/errors.ts';
import { planMigrations, type AppliedMigration, type Migration } from '../../core/migration-plan.ts';
import { migrationChecksum } from '../checksum.ts';
import { advisoryKey, PostgresDb, type SessionSettings } from './postgres-db.ts';
import type { PostgresLocation } from './postgres-url.ts';

export async function migrate(db: PostgresDb, migrations: readonly Migration[], history = 'schema_migrations'): Promise<void> {
  const schema = db.location.schema;
  await db.tx(async (sql) => {
    await sql.rows('SELECT pg_advisory_xact_lock($1)', [advisoryKey('migrate', schema)]);
    if ((await sql.rows('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).length === 0) {
      // Quoted: a checked lower-case name may still be a keyword ("user", "select"); quoting keeps it as is.
      await sql.run(`CREATE SCHEMA "${schema}"`);
    }
    // Every table is unqualified: make sure they land in this store's schema and nowhere else.
    const current = (await sql.rows('SELECT current_schema() AS s'))[0]?.['s'] as string | null | undefined;
    if (current !== schema) {
      throw new EnclaveError(
        'storage_unavailable',
        `${db.where}: the connection's search_path resolves to ${typeof current === 'string' ? `"${current}"` : 'no schema'}, not "${schema}" (does a connection pooler drop the "options" startup parameter?)`,
      );
    }
    await sql.run(`CREATE TABLE IF NOT EXISTS ${history} (
      id integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at bigint NOT NULL)`);
    const applied = (await sql.rows(`SELECT id, name, checksum FROM ${history} ORDER BY id`)).map(
      (r): AppliedMigration => ({ id: Number(r['id']), name: String(r['name']), checksum: String(r['checksum']) }),
    );
    for (const m of planMigrations(migrations, applied, migrationChecksum)) {
      try {
        await sql.run(m.sql);
      } catch (cause) {
        throw new EnclaveError('migration_refused', `${db.where}: migration ${m.id} (${m.name}) failed to apply; nothing of this upgrade was kept`, { cause });
      }
      await sql.run(`INSERT INTO ${history} (id, name, checksum, applied_at) VALUES ($1, $2, $3, $4)`, [m.id, m.name, migrationChecksum(m.sql), Date.now()]);
    }
  });
}

function readCa(l: PostgresLocation): string | undefined {
  if (l.sslrootcert === undefined) return undefined;
  try {
    return readFileSync(l.sslrootcert, 'utf8');
  } catch {
    throw new EnclaveError('invalid_config', `PostgreSQL storage URL: sslrootcert ${l.sslrootcert} cannot be read`);
  }
}

/** Connects a store's pool and brings its schema up to date. Fails with invalid_config, storage_unavailable or migration_refused. */
export async function openMigrated(
  location: PostgresLocation,
  options: { readonly migrations: readonly Migration[]; readonly history?: string; readonly settings?: SessionSettings },
): Promise<PostgresDb> {
  const db = new PostgresDb(location, readCa(location), options.settings);
  try {
    await migrate(db, options.migrations, options.history);
  } catch (err) {
    await db.end();
    // Whatever else went wrong while opening (a permission denied on CREATE SCHEMA, say) also means
    // this store cannot be used: say where, and why.
    if (err instanceof EnclaveError) throw err;
    throw new EnclaveError('storage_unavailable', `${db.where} cannot be opened: ${err instanceof Error ? err.message.slice(0, 200) : String(err)}`, { cause: err });
  }
  return db;
}
