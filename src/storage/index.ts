export { openStore, sqlitePathOf } from './open-store.ts';
export { SqliteStore, type SqliteOptions } from './sqlite/sqlite-store.ts';
export { SQLITE_MIGRATIONS } from './sqlite/sqlite-migrations.ts';
export { migrationChecksum } from './checksum.ts';
