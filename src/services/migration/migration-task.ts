// Runs one migration operation (plan, run, verify, purge) in this thread: opens the enclave, unseals it
// with the shares the caller collected, runs the operation and reports its progress, then closes it all.
// The migration commands run it on their main thread, which they start with heap limits of their own
// (cli/heap-limits.ts): left to itself V8 sizes its heap from the machine's memory and lets garbage pile
// up, so the resident set grows with the source. It ran on a worker thread with resourceLimits (a 192 MB
// old generation) until 2026-11-25; that second isolate cost 40–60 MiB of peak RSS and 5–10 % of the
// speed (docs/benchmarks.md).
import { verifyCertificate, type CertificateCheck } from '../../core/deletion-certificate.ts';
import { EnclaveError } from '../../core/errors.ts';
import type { Mismatch, VerificationInfo } from '../../core/migration-state.ts';
import { openLogStore } from '../../storage/open-store.ts';
import { loadConfig } from '../config-loader.ts';
import { openEnclave } from '../enclave.ts';
import { publishedVerifierKey } from './certificate-issuer.ts';
import { closingAfter } from './closing-after.ts';
import { SUBJECT_CACHE, type MigrationContext } from './migration-context.ts';
import { planMigration, type MigrationPlan } from './migration-planner.ts';
import { purgeMigration, type PurgeProgress, type PurgeReport } from './migration-purger.ts';
import { MigrationRunner, type RunProgress, type RunReport } from './migration-runner.ts';
import { verifyMigration, type VerifyProgress } from './migration-verifier.ts';
import { openMigration, openMigrationStateOf } from './open-migration.ts';

export interface MigrationTask {
  readonly op: 'plan' | 'run' | 'verify' | 'purge';
  readonly configPath: string;
  readonly mappingPath: string;
  readonly batchSize?: number | undefined;
  readonly as?: { readonly org?: string; readonly role?: string };
  readonly verification?: string | undefined;
  /** Unseal shares for the task's enclave (not needed to plan). */
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
  /** Its mismatches go to TaskHooks.onMismatches: there may be more than memory holds. */
  readonly verify: { readonly verification: VerificationInfo };
  readonly purge: { readonly report: PurgeReport; readonly check: CertificateCheck; readonly verifierKey: string };
}

export interface TaskHooks {
  readonly onProgress?: (p: TaskProgress) => void;
  /** A store that failed to close after the task succeeded (its result stands). */
  readonly warn?: (message: string) => void;
  /** verify: the verification once made, then its mismatches a page at a time, in order. */
  readonly onVerified?: (v: VerificationInfo) => void;
  /** The next page is read once this settles (the caller's output took the page). */
  readonly onMismatches?: (page: readonly Mismatch[]) => void | Promise<void>;
}

/** Mismatches read from the state a page at a time. */
const MISMATCH_PAGE = 1000;

async function perform(task: MigrationTask, ctx: MigrationContext, hooks: TaskHooks): Promise<TaskResults[MigrationTask['op']]> {
  const progress = (p: TaskProgress) => hooks.onProgress?.(p);
  switch (task.op) {
    case 'plan':
      return planMigration(ctx, (done, total) => progress({ op: 'plan', done, total }));
    case 'run':
      return new MigrationRunner(ctx, { onProgress: (p) => progress({ op: 'run', progress: p }) }).run();
    case 'verify': {
      const verification = await verifyMigration(ctx, (p) => progress({ op: 'verify', progress: p }));
      hooks.onVerified?.(verification);
      for (let after = 0; ; ) {
        const page = await ctx.state.mismatches(verification.id, MISMATCH_PAGE, after);
        const last = page.at(-1);
        if (!last) break;
        await hooks.onMismatches?.(page.map(({ table, key, kind, detail }) => ({ table, key, kind, detail })));
        after = last.seq;
      }
      return { verification };
    }
    case 'purge': {
      let total = 0;
      for (const t of ctx.resolved.tables) total += await ctx.source.count(t.table);
      const report = await purgeMigration(ctx, { ...(task.verification !== undefined ? { verification: task.verification } : {}), onProgress: (p) => progress({ op: 'purge', progress: p, total }) });
      const verifierKey = (await publishedVerifierKey(ctx.enclave.control.meta)) ?? '';
      return { report, check: verifyCertificate(report.certificate.note, verifierKey), verifierKey };
    }
  }
}

async function runTask(task: MigrationTask, hooks: TaskHooks): Promise<TaskResults[MigrationTask['op']]> {
  const failedClose = (err: unknown) => hooks.warn?.(`closing the stores after the ${task.op} failed: ${err instanceof Error ? err.message : String(err)} (what the ${task.op} did is stored)`);
  return closingAfter(async (opened) => {
    // The log's writes run on this thread: the migration waits for each entry before it writes anyway,
    // and a writer thread would cost its own isolate (tens of MB resident) and a copy of every entry.
    const enclave = await openEnclave(loadConfig(task.configPath), {
      subjectCacheSize: SUBJECT_CACHE,
      logStoreFactory: (url, dataDir) => openLogStore(url, dataDir, { writer: 'inline' }),
    });
    opened(() => enclave.close());
    for (const share of task.shares) await enclave.seal.submit(share);
    const state = await openMigrationStateOf(enclave.config);
    opened(() => state.close());
    const migration = await openMigration(enclave, state, {
      mappingPath: task.mappingPath,
      ...(task.batchSize !== undefined ? { batchSize: task.batchSize } : {}),
      ...(task.as ? { as: task.as } : {}),
    });
    opened(() => migration.close());
    return perform(task, migration.ctx, hooks);
  }, failedClose);
}

/** Runs the task; a failure that is not an EnclaveError is reported as `internal` with its message. */
export async function runMigrationTask<O extends MigrationTask['op']>(task: MigrationTask & { op: O }, hooks: TaskHooks = {}): Promise<TaskResults[O]> {
  try {
    return (await runTask(task, hooks)) as TaskResults[O];
  } catch (err) {
    if (err instanceof EnclaveError) throw err;
    throw new EnclaveError('internal', err instanceof Error ? err.message : String(err), { cause: err });
  }
}
