// The witness's durable state on node:sqlite, in a database file of its own in the witness directory.
import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import { EnclaveError } from '../../core/errors.ts';
import type { Migration } from '../../core/migration-plan.ts';
import type { WitnessEvidence, WitnessRecord, WitnessStore } from '../../services/witness-store.ts';
import { applyMigrations, openSqliteDatabase, StatementCache } from './sqlite-db.ts';

type Row = Record<string, SQLInputValue>;

function text(v: SQLInputValue | undefined): string {
  return typeof v === 'string' ? v : '';
}

/** Ordered schema history; never edit an applied migration, add one. */
export const SQLITE_WITNESS_MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'witness initial',
    sql: `
CREATE TABLE witness_checkpoints (
  origin TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  root BLOB NOT NULL,
  note TEXT NOT NULL,
  time INTEGER NOT NULL
) STRICT;
CREATE TABLE witness_evidence (
  id INTEGER PRIMARY KEY,
  origin TEXT NOT NULL,
  reason TEXT NOT NULL,
  body TEXT NOT NULL,
  time INTEGER NOT NULL
) STRICT;
CREATE INDEX witness_evidence_by_origin ON witness_evidence (origin);
`,
  },
  {
    id: 2,
    name: 'witness evidence once per checkpoint',
    // Rows kept before have no checkpoint (NULL): they stay, and the unique index ignores them.
    sql: `
ALTER TABLE witness_evidence ADD COLUMN checkpoint TEXT;
CREATE UNIQUE INDEX witness_evidence_once ON witness_evidence (origin, checkpoint) WHERE checkpoint IS NOT NULL;
`,
  },
];

export class SqliteWitnessStore implements WitnessStore {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly statements: StatementCache;

  constructor(path: string) {
    this.path = path;
    this.db = openSqliteDatabase(path);
    this.statements = new StatementCache(this.db);
    try {
      applyMigrations(this.db, SQLITE_WITNESS_MIGRATIONS, 'witness_schema_migrations');
    } catch (err) {
      this.db.close();
      throw err;
    }
  }

  private run<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err instanceof EnclaveError ? err : new EnclaveError('storage_unavailable', 'the witness store failed', { cause: err }));
    }
  }

  latest(origin: string): Promise<WitnessRecord | undefined> {
    return this.run(() => {
      const r = this.statements.get('SELECT origin, size, root, note, time FROM witness_checkpoints WHERE origin = ?').get(origin) as Row | undefined;
      if (!r) return undefined;
      return { origin: text(r['origin']), size: Number(r['size']), root: new Uint8Array(r['root'] as Uint8Array), note: text(r['note']), time: Number(r['time']) };
    });
  }

  advance(oldSize: number, record: WitnessRecord): Promise<boolean> {
    return this.run(() => {
      const { origin, size, root, note, time } = record;
      // One statement each, so the check and the write are atomic, across processes too.
      const result =
        oldSize === 0
          ? this.statements
              .get(
                `INSERT INTO witness_checkpoints (origin, size, root, note, time) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root, note = excluded.note, time = excluded.time
                   WHERE witness_checkpoints.size = 0`,
              )
              .run(origin, size, root, note, time)
          : this.statements.get('UPDATE witness_checkpoints SET size = ?, root = ?, note = ?, time = ? WHERE origin = ? AND size = ?').run(size, root, note, time, origin, oldSize);
      return Number(result.changes) === 1;
    });
  }

  addEvidence(e: WitnessEvidence): Promise<void> {
    return this.run(() => {
      this.statements
        .get('INSERT INTO witness_evidence (origin, checkpoint, reason, body, time) VALUES (?, ?, ?, ?, ?) ON CONFLICT (origin, checkpoint) WHERE checkpoint IS NOT NULL DO NOTHING')
        .run(e.origin, e.checkpoint, e.reason, e.body, e.time);
    });
  }

  evidence(origin: string): Promise<WitnessEvidence[]> {
    return this.run(() =>
      (this.statements.get('SELECT origin, checkpoint, reason, body, time FROM witness_evidence WHERE origin = ? ORDER BY id').all(origin) as Row[]).map((r) => ({
        origin: text(r['origin']),
        checkpoint: text(r['checkpoint']),
        reason: text(r['reason']),
        body: text(r['body']),
        time: Number(r['time']),
      })),
    );
  }

  close(): Promise<void> {
    return this.run(() => {
      this.statements.clear();
      if (this.db.isOpen) this.db.close();
    });
  }
}
