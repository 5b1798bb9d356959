// The demo's migration: builds the parent company's legacy data centers, then for each one plans,
// copies through the vault, verifies and purges exactly as `enclave migrate` does, keeping the
// deletion certificates.
import { join } from 'node:path';
import type { Enclave } from '../../services/enclave.ts';
import { planMigration, type MigrationPlan } from '../../services/migration/migration-planner.ts';
import { purgeMigration, type PurgeReport } from '../../services/migration/migration-purger.ts';
import { MigrationRunner, type RunReport } from '../../services/migration/migration-runner.ts';
import { verifyMigration } from '../../services/migration/migration-verifier.ts';
import { openMigration, openMigrationStateOf } from '../../services/migration/open-migration.ts';
import type { VerificationInfo } from '../../core/migration-state.ts';
import type { Io } from '../io.ts';
import { createProgress, progressMode } from '../progress.ts';
import { buildLegacySites, type LegacyBuild } from './legacy-sites.ts';
import type { Population } from './population.ts';

export interface LegacyMigration {
  readonly build: LegacyBuild;
  readonly plan: MigrationPlan;
  readonly run: RunReport;
  readonly verification: VerificationInfo;
  readonly purge: PurgeReport;
}

export interface DemoMigration {
  readonly sites: readonly LegacyMigration[];
  readonly ms: number;
}

export async function migrateLegacySites(io: Io, enclave: Enclave, population: Population, quiet: boolean): Promise<DemoMigration> {
  const started = performance.now();
  const mode = progressMode(io, quiet);
  const building = createProgress(io, mode, { task: 'building the legacy sites', total: population.size, unit: 'users' });
  const builds = buildLegacySites(join(enclave.config.dataDir, 'legacy'), population, (done) => building.update(done));
  building.stop();
  const state = await openMigrationStateOf(enclave.config);
  const sites: LegacyMigration[] = [];
  try {
    for (const build of builds) {
      const opened = await openMigration(enclave, state, { mappingPath: build.mappingPath });
      try {
        const { ctx } = opened;
        const plan = await planMigration(ctx);
        const copying = createProgress(io, mode, { task: `migrating ${build.site}`, total: build.rows, unit: 'rows', extras: ['copied'], rate: true });
        const run = await new MigrationRunner(ctx, { onProgress: (p) => p.phase === 'copying' && copying.update(p.done, { copied: p.counters.copied }) }).run();
        copying.stop();
        const verification = await verifyMigration(ctx);
        if (!verification.ok) throw new Error(`the demo's verification of ${build.site} found ${verification.mismatches} mismatch(es)`);
        const purge = await purgeMigration(ctx);
        sites.push({ build, plan, run, verification, purge });
      } finally {
        await opened.close();
      }
    }
  } finally {
    await state.close();
  }
  return { sites, ms: performance.now() - started };
}
