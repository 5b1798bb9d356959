// Schema migrations: ordered, checksummed, and refused when history disagrees with this build.
// The plan is pure; adapters apply each pending step in a transaction with its history row.
import { EnclaveError } from './errors.ts';

export interface Migration {
  readonly id: number;
  readonly name: string;
  readonly sql: string;
}

export interface AppliedMigration {
  readonly id: number;
  readonly name: string;
  readonly checksum: string;
}

export type Checksum = (text: string) => string;

/** Returns the migrations still to apply, in order; throws `migration_refused` on any disagreement. */
export function planMigrations(known: readonly Migration[], applied: readonly AppliedMigration[], checksum: Checksum): Migration[] {
  known.forEach((m, i) => {
    if (m.id !== i + 1) throw new EnclaveError('migration_refused', `this build's migrations are not numbered 1..n (found ${m.id} at position ${i + 1})`);
  });
  const sorted = [...applied].sort((a, b) => a.id - b.id);
  sorted.forEach((a, i) => {
    if (a.id !== i + 1) throw new EnclaveError('migration_refused', `applied migrations have a gap or are out of order: expected ${i + 1}, found ${a.id} (${a.name})`);
    const k = known[i];
    if (!k) throw new EnclaveError('migration_refused', `the database has migration ${a.id} (${a.name}), unknown to this build; refusing to run an older build on a newer schema`);
    if (k.name !== a.name) throw new EnclaveError('migration_refused', `migration ${a.id} is "${a.name}" in the database but "${k.name}" in this build`);
    if (checksum(k.sql) !== a.checksum) throw new EnclaveError('migration_refused', `migration ${a.id} (${a.name}) was modified after it was applied (checksum mismatch)`);
  });
  return known.slice(sorted.length);
}
