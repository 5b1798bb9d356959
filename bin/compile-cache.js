// Node's module compile cache (module.enableCompileCache): it keeps the type-stripped output of each
// TypeScript source (since Node 23.10) and V8's code cache for it. Without it, every isolate that loads
// the sources (the main thread, the log's writer thread) loads Node's TypeScript
// stripper, a WebAssembly module, and strips every file again: about 25 MiB of RSS per isolate, and
// slower starts. The cache is code: it lives in the installation (as protected as the sources), unless
// NODE_COMPILE_CACHE names another directory; NODE_DISABLE_COMPILE_CACHE=1 turns it off.
import module from 'node:module';
import { join } from 'node:path';

export const COMPILE_CACHE_DIR = join(import.meta.dirname, '..', 'node_modules', '.cache', 'enclave-compile');

/** `env` for a child process that should run with the cache as this entry point would (the benchmarks'). */
export function withCompileCache(env = process.env) {
  return { ...env, NODE_COMPILE_CACHE: env.NODE_COMPILE_CACHE ?? COMPILE_CACHE_DIR };
}

export function enableCompileCache() {
  if (process.env.NODE_DISABLE_COMPILE_CACHE) return;
  const { status, directory } = module.enableCompileCache(process.env.NODE_COMPILE_CACHE ?? COMPILE_CACHE_DIR);
  // Worker threads and child processes (the heap-limit re-exec) enable it from the environment (already
  // there when NODE_COMPILE_CACHE enabled it). Where it cannot be written (a read-only installation),
  // everything runs as before, only without it.
  if (status === module.constants.compileCacheStatus.ENABLED && directory !== undefined) process.env.NODE_COMPILE_CACHE = directory;
}
