// `enclave serve` runs with the V8 heap limits of its configuration (server.max_old_space_mb,
// server.max_semi_space_mb) and with SERVER_ENV. Left alone, V8 sizes its heaps from the machine's memory
// (on 24 GiB, a young generation of about 100 MB and old-space garbage kept for minutes), and neither a
// heap limit nor the C library's allocator settings can change once the process runs, so it replaces
// itself (same pid, same arguments) with a Node started with them. What the operator already set (flags
// on the command line or in NODE_OPTIONS, variables in the environment) wins: only missing ones are added.
import { getHeapStatistics } from 'node:v8';
import type { ServerConfig } from '../core/config.ts';

const OLD_SPACE = '--max-old-space-size';
const SEMI_SPACE = '--max-semi-space-size';

/** The Node flags a server with this configuration runs with (the bench starts its gated server with them too). */
export function heapFlags(server: Pick<ServerConfig, 'maxOldSpaceMb' | 'maxSemiSpaceMb'>): string[] {
  return [`${OLD_SPACE}=${server.maxOldSpaceMb}`, `${SEMI_SPACE}=${server.maxSemiSpaceMb}`];
}

/**
 * glibc's malloc gives a thread that finds the arenas busy one of its own (up to eight per core), and
 * each arena keeps the pages freed in it. Under load the server's threads (the main thread, the log's
 * writer, V8's helpers) grew five arenas of 7 to 13 MiB resident besides the main one. Two arenas hold
 * them all: the peak RSS about 15 MiB lower under the bench's load at the same CPU per read; one arena
 * about 30 MiB lower, with more CPU per read in three of four rounds (docs/deployment.md, "Memory").
 * Other C libraries ignore the variable, so it is set (and restarted for) only where glibc runs.
 */
export const SERVER_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

/** SERVER_ENV where this process runs on glibc, else nothing (the variable would do nothing). */
export function serverEnv(): Readonly<Record<string, string>> {
  // Set already (a process restarted with it, or the operator's): no diagnostic report to build.
  if (Object.keys(missingEnv(SERVER_ENV)).length === 0) return SERVER_ENV;
  const header = (process.report.getReport() as { header?: { glibcVersionRuntime?: unknown } }).header;
  return typeof header?.glibcVersionRuntime === 'string' ? SERVER_ENV : {};
}

/** The variables of `wanted` that `env` does not set. */
export function missingEnv(wanted: Readonly<Record<string, string>>, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return Object.fromEntries(Object.entries(wanted).filter(([name]) => env[name] === undefined));
}

/**
 * The migration commands run the migration on their main thread (services/migration/migration-task.ts)
 * and bound its heap: enough for a page of rows, the caches and the CLI's own code, never the source.
 * Left to V8, a 24 GiB machine gets semi-spaces of 16 MB (32 MB resident once touched) and an old
 * generation allowed to hold garbage for minutes, so the resident set grew with the source. Figures in
 * docs/benchmarks.md (the migration, 2026-11-25).
 */
export const MIGRATION_MAIN_FLAGS: readonly string[] = [`${OLD_SPACE}=224`, `${SEMI_SPACE}=4`];

/** The flags of `wanted` whose setting neither this process's flags nor NODE_OPTIONS name. */
export function missingHeapFlags(wanted: readonly string[], execArgv: readonly string[] = process.execArgv, nodeOptions = process.env['NODE_OPTIONS'] ?? ''): string[] {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)].map((f) => f.split('=')[0]?.replaceAll('_', '-'));
  return wanted.filter((f) => !given.includes(f.split('=')[0]));
}

/**
 * Re-executes this process with the heap flags and variables it lacks; returns only if nothing is
 * missing, or where the platform cannot replace a process (Windows; its C library has no use for the
 * variables), with the flags it could not apply. The new image starts with every signal handler reset:
 * until it takes SIGHUP again (tls-reload.ts, first thing in its command), one ends it. So a server calls
 * this as early as it can, before loading what it needs only to serve.
 */
function ensureHeapLimits(flags: readonly string[], env: Readonly<Record<string, string>>): readonly string[] {
  const missing = missingHeapFlags(flags);
  const vars = missingEnv(env);
  if (missing.length === 0 && Object.keys(vars).length === 0) return [];
  const [, script, ...args] = process.argv;
  if (typeof process.execve !== 'function' || script === undefined) return missing;
  process.execve(process.execPath, [process.execPath, ...process.execArgv, ...missing, script, ...args], { ...process.env, ...vars });
  return [];
}

/**
 * ensureHeapLimits with `flags` (heapFlags of a server's configuration, or MIGRATION_MAIN_FLAGS) and `env`
 * (SERVER_ENV for a server), telling `note` what to pass instead where `what` (the server, the demo, the
 * migration) cannot restart itself.
 */
export function applyHeapLimits(flags: readonly string[], what: string, note: (message: string) => void, env: Readonly<Record<string, string>> = {}): void {
  if (ensureHeapLimits(flags, env).length > 0) note(`this platform cannot restart ${what} with heap limits; pass ${flags.join(' ')} in NODE_OPTIONS`);
}

/** The heap limit V8 actually runs with, in MiB (old generation plus the young generation's share). */
export function heapLimitMb(): number {
  return Math.round(getHeapStatistics().heap_size_limit / 2 ** 20);
}
