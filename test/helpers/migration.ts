// A real enclave (test/helpers/fixture.ts) with the demo's legacy SQLite sites built beside it, and the
// migration of one of them opened: what the migration tests start from.
import { join } from 'node:path';
import type { EventLog, LogEventInput, LogReceipt } from '../../src/core/event-log.ts';
import type { MigrationStateStore } from '../../src/core/migration-state.ts';
import { buildLegacySites, type LegacyBuild } from '../../src/cli/demo/legacy-sites.ts';
import { Population } from '../../src/cli/demo/population.ts';
import type { MigrationContext } from '../../src/services/migration/migration-context.ts';
import { openMigration, type OpenMigrationOptions } from '../../src/services/migration/open-migration.ts';
import { SqliteMigrationState } from '../../src/storage/sqlite/sqlite-migration-state.ts';
import { makeFixture, type Fixture } from './fixture.ts';

/** Keeps the events appended, in order, as the transparency log will. */
export class RecordingLog implements EventLog {
  readonly events: LogEventInput[] = [];

  append(event: LogEventInput): Promise<LogReceipt> {
    this.events.push(event);
    return Promise.resolve({ index: this.events.length - 1 });
  }
}

export interface MigrationHarness {
  readonly fx: Fixture;
  readonly population: Population;
  readonly builds: readonly LegacyBuild[];
  readonly state: MigrationStateStore;
  readonly log: RecordingLog;
  /** Opens the migration of a mapping (default: the first legacy site's); closed by `close`. */
  open(mappingPath?: string, options?: { batchSize?: number; openSource?: OpenMigrationOptions['openSource'] }): Promise<MigrationContext>;
  close(): Promise<void>;
}

export async function migrationHarness(users = 60, seed = 7): Promise<MigrationHarness> {
  const fx = await makeFixture();
  const population = new Population(seed, users);
  const builds = buildLegacySites(join(fx.dir, 'legacy'), population);
  const state = new SqliteMigrationState(join(fx.dataDir, 'migration-state.db'));
  const log = new RecordingLog();
  const opened: { close(): Promise<void> }[] = [];
  return {
    fx,
    population,
    builds,
    state,
    log,
    async open(mappingPath = builds[0]?.mappingPath ?? '', options = {}) {
      const o = await openMigration(fx.enclave, state, { mappingPath, log, batchSize: options.batchSize ?? 7, ...(options.openSource ? { openSource: options.openSource } : {}) });
      opened.push(o);
      return o.ctx;
    },
    async close() {
      for (const o of opened) await o.close();
      await state.close();
      await fx.close();
    },
  };
}
