// Runs one migration operation (plan, run, verify, purge) on a worker thread whose V8 heap is bounded.
// A migration allocates a few kilobytes of short-lived objects per row; left to itself V8 sizes its heap
// from the machine's memory and lets garbage pile up, so the resident set grows with the source. In a
// worker with resourceLimits the heap stays small and collections come often, and memory is flat from
// a hundred thousand rows to millions (docs/benchmarks.md). The worker opens its own copy of the enclave
// and unseals it with the shares the caller collected; SIGKILL still ends the whole process at once.
import { Worker } from 'node:worker_threads';
import { EnclaveError, isErrorCode } from '../../core/errors.ts';
import type { Mismatch, VerificationInfo } from '../../core/migration-state.ts';
import type { CertificateCheck } from '../../core/deletion-certificate.ts';
import type { MigrationPlan } from './migration-planner.ts';
import type { PurgeProgress, PurgeReport } from './migration-purger.ts';
import type { RunProgress, RunReport } from './migration-runner.ts';
import type { VerifyProgress } from './migration-verifier.ts';

/**
 * The migration thread's semi-spaces (MB). `enclave migrate` gives its main thread this size by a flag
 * (heap-limits.ts), and the flag sets every isolate of the process, this thread's included, over its
 * resourceLimits; so the two must agree (test/cli/heap-limits.test.ts).
 */
export const MIGRATION_SEMI_SPACE_MB = 4;
/**
 * The heap of the migration thread (MB): enough for a page of rows and the caches, never the source.
 * V8 divides a young generation into two semi-spaces and a new large-object space of the same size.
 */
export const HEAP_LIMITS = { maxYoungGenerationSizeMb: 3 * MIGRATION_SEMI_SPACE_MB, maxOldGenerationSizeMb: 192 } as const;

export interface MigrationTask {
  readonly op: 'plan' | 'run' | 'verify' | 'purge';
  readonly configPath: string;
  readonly mappingPath: string;
  readonly batchSize?: number | undefined;
  readonly as?: { readonly org?: string; readonly role?: string };
  readonly verification?: string | undefined;
  /** Unseal shares for the worker's enclave (not needed to plan). */
  readonly shares: readonly string[];
}

export type TaskProgress =
  | { readonly op: 'plan'; readonly done: number; readonly total: number }
  | { readonly op: 'run'; readonly progress: RunProgress }
  | { readonly op: 'verify'; readonly progress: VerifyProgress }
  | { readonly op: 'purge'; readonly progress: PurgeProgress; readonly total: number };

export interface TaskResults {
  readonly plan: MigrationPlan;
  readonly run: RunReport;
  readonly verify: { readonly verification: VerificationInfo; readonly mismatches: readonly Mismatch[] };
  readonly purge: { readonly report: PurgeReport; readonly check: CertificateCheck; readonly verifierKey: string };
}

export type WorkerMessage =
  | { readonly kind: 'progress'; readonly progress: TaskProgress }
  | { readonly kind: 'result'; readonly value: unknown }
  | { readonly kind: 'error'; readonly code: string; readonly message: string };

export async function runMigrationTask<O extends MigrationTask['op']>(task: MigrationTask & { op: O }, onProgress: (p: TaskProgress) => void = () => {}): Promise<TaskResults[O]> {
  const worker = new Worker(new URL('./migration-thread-worker.ts', import.meta.url), { workerData: task, resourceLimits: HEAP_LIMITS });
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
      void worker.terminate();
    };
    worker.on('message', (m: WorkerMessage) => {
      if (m.kind === 'progress') onProgress(m.progress);
      else if (m.kind === 'result') settle(() => resolve(m.value as TaskResults[O]));
      else settle(() => reject(new EnclaveError(isErrorCode(m.code) ? m.code : 'internal', m.message)));
    });
    worker.once('error', (err: Error) => {
      const oom = (err as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
      settle(() => reject(oom ? new EnclaveError('internal', `the migration ran out of its ${HEAP_LIMITS.maxOldGenerationSizeMb} MB heap`, { cause: err }) : err));
    });
    worker.once('exit', (code) => settle(() => reject(new EnclaveError('internal', `the migration thread stopped (exit ${code}) before it answered`))));
  });
}
