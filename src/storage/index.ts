export { openMigrationState, openStore, sqlitePathOf } from './open-store.ts';
export { MIGRATION_STATE_MIGRATIONS, SqliteMigrationState } from './sqlite/sqlite-migration-state.ts';
export { SqliteStore, type SqliteOptions } from './sqlite/sqlite-store.ts';
export { SQLITE_MIGRATIONS } from './sqlite/sqlite-migrations.ts';
export { migrationChecksum } from './checksum.ts';
