// Applies the pending migrations of one store's schema in a single transaction, under an advisory lock
// per schema: instances starting at once queue here, the first one migrates, the others then find
// nothing left to do. A history that disagrees with this build is refused (core/migration-plan.ts)
// and, like a migration that fails, leaves the database exactly as it was (PostgreSQL DDL is transactional).
import { EnclaveError } from '../../core/errors.ts';
import { planMigrations, type AppliedMigration, type Migration } from '../../core/migration-plan.ts';
import { migrationChecksum } from '../checksum.ts';
import { advisoryKey, type PostgresDb } from './postgres-db.ts';

export async function migrate(db: PostgresDb, migrations: readonly Migration[]): Promise<void> {
  const schema = db.location.schema;
  await db.tx(async (sql) => {
    await sql.rows('SELECT pg_advisory_xact_lock($1)', [advisoryKey('migrate', schema)]);
    if ((await sql.rows('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).length === 0) {
      await sql.run(`CREATE SCHEMA ${schema}`);
    }
    // Every table is unqualified: make sure they land in this store's schema and nowhere else.
    const current = (await sql.rows('SELECT current_schema() AS s'))[0]?.['s'] as string | null | undefined;
    if (current !== schema) {
      throw new EnclaveError(
        'storage_unavailable',
        `${db.where}: the connection's search_path resolves to ${typeof current === 'string' ? `"${current}"` : 'no schema'}, not "${schema}" (does a connection pooler drop the "options" startup parameter?)`,
      );
    }
    await sql.run(`CREATE TABLE IF NOT EXISTS schema_migrations (
      id integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at bigint NOT NULL)`);
    const applied = (await sql.rows('SELECT id, name, checksum FROM schema_migrations ORDER BY id')).map(
      (r): AppliedMigration => ({ id: Number(r['id']), name: String(r['name']), checksum: String(r['checksum']) }),
    );
    for (const m of planMigrations(migrations, applied, migrationChecksum)) {
      try {
        await sql.run(m.sql);
      } catch (cause) {
        throw new EnclaveError('migration_refused', `${db.where}: migration ${m.id} (${m.name}) failed to apply; nothing of this upgrade was kept`, { cause });
      }
      await sql.run('INSERT INTO schema_migrations (id, name, checksum, applied_at) VALUES ($1, $2, $3, $4)', [m.id, m.name, migrationChecksum(m.sql), Date.now()]);
    }
  });
}
