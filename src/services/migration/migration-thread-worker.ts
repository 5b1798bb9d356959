// The migration thread (see migration-thread.ts): opens the enclave, unseals it with the given shares,
// runs the one operation and posts its progress and its result (or its error's code and message).
import { parentPort, workerData } from 'node:worker_threads';
import { verifyCertificate } from '../../core/deletion-certificate.ts';
import { EnclaveError } from '../../core/errors.ts';
import type { Mismatch } from '../../core/migration-state.ts';
import { loadConfig } from '../config-loader.ts';
import { openLogStore } from '../../storage/open-store.ts';
import { openEnclave } from '../enclave.ts';
import { publishedVerifierKey } from './certificate-issuer.ts';
import { SUBJECT_CACHE, type MigrationContext } from './migration-context.ts';
import { planMigration } from './migration-planner.ts';
import { purgeMigration } from './migration-purger.ts';
import { MigrationRunner } from './migration-runner.ts';
import type { MigrationTask, TaskProgress, WorkerMessage } from './migration-thread.ts';
import { verifyMigration } from './migration-verifier.ts';
import { openMigration, openMigrationStateOf } from './open-migration.ts';

const task = workerData as MigrationTask;
const post = (m: WorkerMessage) => parentPort?.postMessage(m);
const progress = (p: TaskProgress) => post({ kind: 'progress', progress: p });

async function allMismatches(ctx: MigrationContext, verification: string): Promise<Mismatch[]> {
  const out: Mismatch[] = [];
  for (let after = 0; ; ) {
    const page = await ctx.state.mismatches(verification, 1000, after);
    const last = page.at(-1);
    if (!last) return out;
    out.push(...page.map(({ table, key, kind, detail }) => ({ table, key, kind, detail })));
    after = last.seq;
  }
}

async function perform(ctx: MigrationContext): Promise<unknown> {
  switch (task.op) {
    case 'plan':
      return planMigration(ctx, (done, total) => progress({ op: 'plan', done, total }));
    case 'run':
      return new MigrationRunner(ctx, { onProgress: (p) => progress({ op: 'run', progress: p }) }).run();
    case 'verify': {
      const verification = await verifyMigration(ctx, (p) => progress({ op: 'verify', progress: p }));
      return { verification, mismatches: await allMismatches(ctx, verification.id) };
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

async function main(): Promise<void> {
  // The log's writes run on this thread: the migration waits for each entry before it writes anyway, and
  // a writer thread would cost its own isolate (tens of MB resident) and a copy of every entry.
  const enclave = await openEnclave(loadConfig(task.configPath), {
    subjectCacheSize: SUBJECT_CACHE,
    logStoreFactory: (url, dataDir) => openLogStore(url, dataDir, { writer: 'inline' }),
  });
  try {
    for (const share of task.shares) await enclave.seal.submit(share);
    const state = await openMigrationStateOf(enclave.config);
    try {
      const opened = await openMigration(enclave, state, {
        mappingPath: task.mappingPath,
        ...(task.batchSize !== undefined ? { batchSize: task.batchSize } : {}),
        ...(task.as ? { as: task.as } : {}),
      });
      try {
        post({ kind: 'result', value: await perform(opened.ctx) });
      } finally {
        await opened.close();
      }
    } finally {
      await state.close();
    }
  } finally {
    await enclave.close();
  }
}

main().catch((err: unknown) => {
  if (err instanceof EnclaveError) post({ kind: 'error', code: err.code, message: err.message });
  else post({ kind: 'error', code: 'internal', message: err instanceof Error ? err.message : String(err) });
});
