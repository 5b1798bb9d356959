// The log's sequencer lease on PostgreSQL: a session-level advisory lock (pg_try_advisory_lock) held on a
// connection of its own, outside the pool. The server keeps it exactly as long as that session lives, so
// a holder that exits or is killed lets it go at once (its socket closes), and the next instance to poll
// takes it. The log_sequencer row only says who holds it and when it last confirmed; the lock decides.
import type pg from 'pg';
import type { SequencerLease } from '../../core/log-store.ts';
import { advisoryKey, endedWithin, type PostgresDb } from './postgres-db.ts';

/** The server's clock in ms: every instance compares heartbeats on one clock. */
const NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

// A holder that vanishes without closing its socket (a partition, a frozen host) is noticed by the server
// through TCP keepalives on the idle session (after 5 s idle, 3 probes 1 s apart) and, for data it sent
// and that nobody acknowledges, tcp_user_timeout (PostgreSQL 12+): its session ends and the lock with it.
const SESSION_SETUP = 'SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 1; SET tcp_keepalives_count = 3';
const USER_TIMEOUT = 'SET tcp_user_timeout = 5000';
/** SQLSTATE undefined_object: a server older than 12 has no tcp_user_timeout; keepalives still apply. */
const UNKNOWN_SETTING = '42704';
/** A heartbeat that gets no answer in this time means the session is lost: stop acting as sequencer. */
const QUERY_TIMEOUT_MS = 5000;

export class PostgresSequencerLease {
  private readonly db: PostgresDb;
  private readonly key: string;
  /** pg_locks shows a bigint advisory key as two oids: its high half (classid) and low half (objid). */
  private readonly keyHalves: readonly [number, number];
  private client: pg.Client | null = null;
  private held = false;

  constructor(db: PostgresDb) {
    this.db = db;
    this.key = advisoryKey('log-sequencer', db.location.schema);
    const k = BigInt.asUintN(64, BigInt(this.key));
    this.keyHalves = [Number(k >> 32n), Number(k & 0xffffffffn)];
  }

  /** Takes the lock, or confirms it (heartbeat) if this handle holds it; false while another session does. */
  async lead(instance: string): Promise<boolean> {
    try {
      const c = await this.session();
      if (this.held) {
        // Any answer on this session proves the session, and so the lock, is still there.
        await c.query(
          `INSERT INTO log_sequencer (id, instance, since, heartbeat) VALUES (1, $1, ${NOW_MS}, ${NOW_MS})
           ON CONFLICT (id) DO UPDATE SET instance = excluded.instance, heartbeat = excluded.heartbeat,
             since = CASE WHEN log_sequencer.instance = excluded.instance THEN log_sequencer.since ELSE excluded.since END`,
          [instance],
        );
        return true;
      }
      const got = (await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [this.key])).rows[0]?.ok === true;
      if (!got) return false;
      this.held = true;
      await c.query(
        `INSERT INTO log_sequencer (id, instance, since, heartbeat) VALUES (1, $1, ${NOW_MS}, ${NOW_MS})
         ON CONFLICT (id) DO UPDATE SET instance = excluded.instance, since = excluded.since, heartbeat = excluded.heartbeat`,
        [instance],
      );
      return true;
    } catch (err) {
      void this.drop();
      throw this.db.fail(err, 'lost the log sequencer lease');
    }
  }

  /**
   * Lets the lease go and keeps the session for the next tick: a sealed instance integrates and releases
   * on every tick that finds new entries, and a new session per tick would churn connections. If the
   * unlock gets no answer, the session ends, and the lock with it.
   */
  async release(): Promise<void> {
    const c = this.client;
    if (!c || !this.held) return;
    this.held = false;
    try {
      await c.query('SELECT pg_advisory_unlock($1)', [this.key]);
    } catch {
      await this.drop();
    }
  }

  /** Ends the session (and so the lock, if held): at close. */
  close(): Promise<void> {
    return this.drop();
  }

  async holder(): Promise<SequencerLease | undefined> {
    const [r] = await this.db.rows(
      `SELECT s.instance, s.since, ${NOW_MS} - s.heartbeat AS age,
         EXISTS (SELECT 1 FROM pg_locks l
                 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid) AS held
       FROM log_sequencer s WHERE s.id = 1`,
      this.keyHalves,
    );
    return r && { instance: String(r['instance']), since: Number(r['since']), heartbeatAgeMs: Number(r['age']), held: r['held'] === true };
  }

  private async session(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = await this.db.session(() => void this.drop(), { queryTimeoutMs: QUERY_TIMEOUT_MS });
    try {
      await client.query(SESSION_SETUP);
      await client.query(USER_TIMEOUT).catch((err: unknown) => {
        if ((err as { code?: unknown }).code !== UNKNOWN_SETTING) throw err;
      });
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    this.client = client;
    return client;
  }

  /** Ends the session; waits a bounded time for the server to see it (a lost network never answers). */
  private drop(): Promise<void> {
    const c = this.client;
    this.client = null;
    this.held = false;
    if (!c) return Promise.resolve();
    return endedWithin(c.end().catch(() => undefined));
  }
}
