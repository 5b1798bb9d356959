export { openLogStore, openStore, sqlitePathOf } from './open-store.ts';
export { SqliteLogStore, type SqliteLogOptions } from './sqlite/sqlite-log-store.ts';
export { SQLITE_LOG_MIGRATIONS } from './sqlite/sqlite-log-migrations.ts';
export { SqliteStore, type SqliteOptions } from './sqlite/sqlite-store.ts';
export { SQLITE_MIGRATIONS } from './sqlite/sqlite-migrations.ts';
export { PostgresStore, type PostgresOptions } from './postgres/postgres-store.ts';
export { POSTGRES_MIGRATIONS } from './postgres/postgres-migrations.ts';
export { parsePostgresUrl, describeLocation, isPostgresUrl, type PostgresLocation } from './postgres/postgres-url.ts';
export { migrationChecksum } from './checksum.ts';
