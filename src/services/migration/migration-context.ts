// What every migration step works with: the enclave, the durable state, the source and its checked
// mapping, the principal it acts as, and the transparency log. Built once per command.
import { createSecretKey, type KeyObject } from 'node:crypto';
import { EnclaveError } from '../../core/errors.ts';
import type { EventLog, LogEventInput, LogValue } from '../../core/event-log.ts';
import type { ResolvedMapping, ResolvedTable } from '../../core/migration-mapping.ts';
import type { MigrationSource } from '../../core/migration-source.ts';
import type { MigrationInfo, MigrationStateStore } from '../../core/migration-state.ts';
import type { Principal } from '../../core/principal.ts';
import type { Enclave } from '../enclave.ts';
import { RowClassifier } from './row-classifier.ts';

/** Rows per batch: fewer, larger transactions (each commit is an fsync) against bounded memory. */
export const DEFAULT_BATCH_SIZE = 5000;

/**
 * Subjects a migration keeps in memory (the classifier's lookups, its registrations, the vault's data
 * keys and sites): about two batches' worth. More would not be flat in memory as sources grow, and a
 * miss costs little: the subjects of a page are looked up, unwrapped or registered together.
 */
export const SUBJECT_CACHE = 2 * DEFAULT_BATCH_SIZE;

export interface MigrationDeps {
  readonly enclave: Enclave;
  readonly state: MigrationStateStore;
  readonly source: MigrationSource;
  readonly resolved: ResolvedMapping;
  readonly principal: Principal;
  /** The transparency log; absent until the log service is wired in (events are then not recorded). */
  readonly log?: EventLog | undefined;
  readonly clock?: () => number;
  readonly batchSize?: number;
}

export class MigrationContext {
  readonly enclave: Enclave;
  readonly state: MigrationStateStore;
  readonly source: MigrationSource;
  readonly resolved: ResolvedMapping;
  readonly principal: Principal;
  readonly log: EventLog | undefined;
  readonly clock: () => number;
  readonly batchSize: number;
  readonly classifier: RowClassifier;
  private digestKeyObject: KeyObject | undefined;

  constructor(deps: MigrationDeps) {
    this.enclave = deps.enclave;
    this.state = deps.state;
    this.source = deps.source;
    this.resolved = deps.resolved;
    this.principal = deps.principal;
    this.log = deps.log;
    this.clock = deps.clock ?? Date.now;
    this.batchSize = deps.batchSize ?? DEFAULT_BATCH_SIZE;
    this.classifier = new RowClassifier(deps.resolved, deps.enclave.config, SUBJECT_CACHE);
  }

  /** Called by every operation (plan, run, verify, purge) before it reads the source. */
  begin(): void {
    this.classifier.clear();
  }

  get name(): string {
    return this.resolved.mapping.name;
  }

  /** Source kind and location, as recorded in the state and the certificate. */
  get sourceLabel(): string {
    return `${this.source.kind}:${this.source.location}`;
  }

  /** The migration's row-digest key (HKDF from the root key, its own label per migration): needs the enclave unsealed. */
  digestKey(): KeyObject {
    if (!this.digestKeyObject) {
      const raw = this.enclave.keyring.derive(`migration/row-digest/v1/${this.name}`);
      this.digestKeyObject = createSecretKey(raw);
      raw.fill(0);
    }
    return this.digestKeyObject;
  }

  table(name: string): ResolvedTable {
    const t = this.resolved.tables.find((x) => x.table === name);
    if (!t) throw new EnclaveError('migration_changed', `table ${name} of this migration's state is not in the mapping`);
    return t;
  }

  /** The migration's state; refuses one started under a different mapping. */
  async migration(): Promise<MigrationInfo> {
    const m = await this.state.get(this.name);
    if (!m) throw new EnclaveError('migration_not_found', `migration "${this.name}" has not been run yet (run \`enclave migrate run\` first)`);
    this.checkSame(m);
    return m;
  }

  checkSame(m: MigrationInfo): void {
    if (m.mappingHash !== this.resolved.mapping.hash) {
      throw new EnclaveError('migration_changed', `the mapping of migration "${this.name}" changed since it started; give the changed mapping a new name`);
    }
  }

  async record(type: LogEventInput['type'], details: { readonly [key: string]: LogValue }): Promise<number | null> {
    if (!this.log) return null;
    const { id, org, role } = this.principal;
    return (await this.log.append({ type, principal: { id, org, role }, details: { migration: this.name, ...details } })).index;
  }

  close(): void {
    this.digestKeyObject = undefined;
  }
}
