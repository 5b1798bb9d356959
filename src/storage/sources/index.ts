export { openSource } from './open-source.ts';
export { JsonlSource } from './jsonl-source.ts';
export { MysqlSource, mysqlKind } from './mysql-source.ts';
export { PostgresSource, pgKind, redactUrl } from './postgres-source.ts';
export { SqliteSource, sqliteKind } from './sqlite-source.ts';
