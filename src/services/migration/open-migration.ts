// Composition root of a migration command: reads the mapping, opens its source, checks the mapping
// against the live schema and the configuration, and builds the context every step works with.
import { dirname } from 'node:path';
import type { EventLog } from '../../core/event-log.ts';
import { resolveMapping } from '../../core/migration-mapping.ts';
import type { MigrationSource } from '../../core/migration-source.ts';
import type { MigrationStateStore } from '../../core/migration-state.ts';
import type { EnclaveConfig } from '../../core/config.ts';
import { openMigrationState } from '../../storage/open-store.ts';
import { openSource } from '../../storage/sources/open-source.ts';
import type { Enclave } from '../enclave.ts';
import { loadMapping } from './mapping-loader.ts';
import { MigrationContext } from './migration-context.ts';
import { migrationPrincipal } from './migration-principal.ts';

export interface OpenMigrationOptions {
  readonly mappingPath: string;
  readonly batchSize?: number;
  /** The org and role the migration acts as (default: the first platform service role allowed to, stating the purpose `migration`). */
  readonly as?: { readonly org?: string; readonly role?: string };
  /** Where the migration's events go (default: the enclave's transparency log). */
  readonly log?: EventLog;
  readonly clock?: () => number;
  /** Opens the source (tests pass their own); default: the one the mapping names. */
  readonly openSource?: typeof openSource;
}

export interface OpenedMigration {
  readonly ctx: MigrationContext;
  close(): Promise<void>;
}

/** The migration state store the configuration names (`migration.state`). */
export async function openMigrationStateOf(config: EnclaveConfig): Promise<MigrationStateStore> {
  return openMigrationState(config.migrationState, config.dataDir);
}

export async function openMigration(enclave: Enclave, state: MigrationStateStore, options: OpenMigrationOptions): Promise<OpenedMigration> {
  const mapping = loadMapping(options.mappingPath);
  const source: MigrationSource = await (options.openSource ?? openSource)(mapping.source, dirname(options.mappingPath));
  try {
    const resolved = resolveMapping(mapping, enclave.config, await source.tables(), options.mappingPath, source.kind);
    const principal = migrationPrincipal(enclave.config, mapping.name, options.as);
    const ctx = new MigrationContext({
      enclave,
      state,
      source,
      resolved,
      principal,
      // Every run, verification, purge and certificate goes to the enclave's transparency log.
      log: options.log ?? enclave.log,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
    });
    return {
      ctx,
      async close() {
        ctx.close();
        await source.close();
      },
    };
  } catch (err) {
    await source.close();
    throw err;
  }
}
