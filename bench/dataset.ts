// The seeded data set: its shape, where it is cached and the manifest that marks a finished seed. The
// cache key carries a version string, the size and a digest of the store's schema history, so a change
// to any of them seeds anew instead of benchmarking a stale store.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SQLITE_MIGRATIONS } from '../src/storage/sqlite/sqlite-migrations.ts';

/** Bump when the generated data or the way it is stored changes. */
export const DATASET_VERSION = 'bench-v2';

export const WORK_DIR = join(import.meta.dirname, '.work');
const MANIFEST = 'manifest.json';

export interface DatasetSpec {
  readonly subjects: number;
  /** One `users` record and (recordsPerSubject - 1) `messages` per subject. */
  readonly recordsPerSubject: number;
}

export interface Manifest {
  readonly key: string;
  readonly subjects: number;
  readonly recordsPerSubject: number;
  readonly records: number;
  readonly configPath: string;
  /** The SQLite file of the home site that holds every seeded record (all subjects live in the US). */
  readonly siteDbPath: string;
  /** Bearer secret of the `platform/service` principal the gated run reads as (bench data only). */
  readonly serviceToken: string;
  readonly seedSeconds: number;
  readonly seededAt: string;
  /** The transparency log's SQLite file; a copy as seeding left it sits beside it (`.seeded`). Absent in older data sets. */
  readonly logDbPath?: string;
}

const SEEDED = '.seeded';

/** Keeps a copy of the log file (and its WAL, if any) as seeding left it; the enclave must be closed. */
export function snapshotSeededLog(logDbPath: string): void {
  for (const suffix of ['', '-wal']) {
    rmSync(`${logDbPath}${SEEDED}${suffix}`, { force: true });
    if (existsSync(`${logDbPath}${suffix}`)) copyFileSync(`${logDbPath}${suffix}`, `${logDbPath}${SEEDED}${suffix}`);
  }
}

/**
 * Puts the log back as seeding left it, so that every run starts from the same log, not from one grown by
 * each earlier run's reads (a million entries or more a run). False when the data set has no copy.
 */
export function restoreSeededLog(manifest: Manifest): boolean {
  const path = manifest.logDbPath;
  if (path === undefined || !existsSync(`${path}${SEEDED}`)) return false;
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
  for (const suffix of ['', '-wal']) if (existsSync(`${path}${SEEDED}${suffix}`)) copyFileSync(`${path}${SEEDED}${suffix}`, `${path}${suffix}`);
  return true;
}

export const SUBJECT_COUNTRY = 'US';
/** The purpose the platform service states on every bench request (one the starter configuration gives it). */
export const BENCH_PURPOSE = 'account';

export function recordCount(spec: DatasetSpec): number {
  return spec.subjects * spec.recordsPerSubject;
}

export function datasetKey(spec: DatasetSpec): string {
  const schema = createHash('sha256').update(JSON.stringify(SQLITE_MIGRATIONS)).digest('hex').slice(0, 8);
  return `${DATASET_VERSION}-${spec.subjects}x${spec.recordsPerSubject}-${schema}`;
}

export function datasetDir(spec: DatasetSpec): string {
  return join(WORK_DIR, datasetKey(spec));
}

export function readManifest(dir: string): Manifest | undefined {
  const path = join(dir, MANIFEST);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as Manifest;
}

/** Written last and atomically: its presence means the seed completed. */
export function writeManifest(dir: string, manifest: Manifest): void {
  const tmp = join(dir, `${MANIFEST}.tmp`);
  writeFileSync(tmp, JSON.stringify(manifest, null, 2), { mode: 0o600 });
  renameSync(tmp, join(dir, MANIFEST));
}

export function subjectId(i: number): string {
  return `s${i}`;
}

/** Record `k` of subject `i`: k = 0 is the subject's `users` record, the others are `messages`. */
export function recordRef(i: number, k: number): { collection: 'users' | 'messages'; id: string } {
  return k === 0 ? { collection: 'users', id: `u${i}` } : { collection: 'messages', id: `m${i}.${k}` };
}
