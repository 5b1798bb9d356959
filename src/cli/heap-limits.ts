// `enclave serve` runs with the V8 heap limits of its configuration (server.max_old_space_mb,
// server.max_semi_space_mb). Left alone, V8 sizes its heaps from the machine's memory (on 24 GiB, a
// young generation of about 100 MB and old-space garbage kept for minutes), and a heap limit cannot
// change once the isolate runs, so the process replaces itself (same pid, same arguments) with a Node
// started with the flags. Flags the operator already passed (on the command line or in NODE_OPTIONS)
// win: only missing ones are added.
import { getHeapStatistics } from 'node:v8';
import type { ServerConfig } from '../core/config.ts';
import { MIGRATION_SEMI_SPACE_MB } from '../services/migration/migration-thread.ts';

const OLD_SPACE = '--max-old-space-size';
const SEMI_SPACE = '--max-semi-space-size';

/** The Node flags a server with this configuration runs with (the bench starts its gated server with them too). */
export function heapFlags(server: Pick<ServerConfig, 'maxOldSpaceMb' | 'maxSemiSpaceMb'>): string[] {
  return [`${OLD_SPACE}=${server.maxOldSpaceMb}`, `${SEMI_SPACE}=${server.maxSemiSpaceMb}`];
}

/**
 * The migration commands' main thread only collects shares, shows progress and waits for the migration
 * thread, so its young generation need not be V8's default (sized from the machine's memory: on a 24 GiB
 * machine its semi-spaces grew to 16 MB, 32 MB resident once touched). The flag sets every isolate's
 * semi-spaces, the migration thread's included, so it is that thread's own size (MIGRATION_SEMI_SPACE_MB).
 * Figures in docs/benchmarks.md (the migration, 2026-11-25).
 */
export const MIGRATION_MAIN_FLAGS: readonly string[] = [`${SEMI_SPACE}=${MIGRATION_SEMI_SPACE_MB}`];

/** The flags of `wanted` whose setting neither this process's flags nor NODE_OPTIONS name. */
export function missingHeapFlags(wanted: readonly string[], execArgv: readonly string[] = process.execArgv, nodeOptions = process.env['NODE_OPTIONS'] ?? ''): string[] {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)].map((f) => f.split('=')[0]?.replaceAll('_', '-'));
  return wanted.filter((f) => !given.includes(f.split('=')[0]));
}

/**
 * Re-executes this process with the heap flags it lacks; returns only if nothing is missing, or where
 * the platform cannot replace a process (Windows: then say so, and pass the flags in NODE_OPTIONS).
 */
function ensureHeapLimits(flags: readonly string[]): 'applied' | 'unsupported' {
  const missing = missingHeapFlags(flags);
  if (missing.length === 0) return 'applied';
  if (typeof process.execve !== 'function') return 'unsupported';
  const [, script, ...args] = process.argv;
  if (script === undefined) return 'unsupported';
  process.execve(process.execPath, [process.execPath, ...process.execArgv, ...missing, script, ...args], process.env);
  return 'applied';
}

/**
 * ensureHeapLimits with `flags` (heapFlags of a server's configuration, or MIGRATION_MAIN_FLAGS), telling
 * `note` what to pass instead where `what` (the server, the demo, the migration) cannot restart itself.
 */
export function applyHeapLimits(flags: readonly string[], what: string, note: (message: string) => void): void {
  if (ensureHeapLimits(flags) === 'unsupported') note(`this platform cannot restart ${what} with heap limits; pass ${flags.join(' ')} in NODE_OPTIONS`);
}

/** The heap limit V8 actually runs with, in MiB (old generation plus the young generation's share). */
export function heapLimitMb(): number {
  return Math.round(getHeapStatistics().heap_size_limit / 2 ** 20);
}
