// Opens the source a mapping names. Paths are relative to the mapping file's directory.
import { isAbsolute, relative, resolve } from 'node:path';
import type { SourceSpec } from '../../core/migration-mapping.ts';
import type { MigrationSource } from '../../core/migration-source.ts';
import { JsonlSource } from './jsonl-source.ts';
import { SqliteSource } from './sqlite-source.ts';

export async function openSource(spec: SourceSpec, baseDir: string): Promise<MigrationSource> {
  const at = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  // Locations in certificates are as the mapping wrote them, not this machine's absolute paths.
  const shown = (p: string) => (isAbsolute(p) ? p : relative(baseDir, at(p)) || '.');
  switch (spec.kind) {
    case 'sqlite':
      return new SqliteSource(at(spec.path), shown(spec.path));
    case 'jsonl':
      return new JsonlSource(at(spec.dir), shown(spec.dir));
    // The network engines' drivers load only when a mapping names them (mysql2 alone is ~20 MB resident).
    case 'postgres':
      return (await import('./postgres-source.ts')).PostgresSource.open(spec.url, spec.schema);
    case 'mysql':
      return (await import('./mysql-source.ts')).MysqlSource.open(spec.url);
  }
}
