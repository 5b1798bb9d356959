// Two enclaves on one set of stores, as several `enclave serve` processes run (PostgreSQL schemas), or a
// running server and the CLI do (one SQLite data directory): A serves HTTP in-process, B is a second
// enclave opened from A's configuration and unsealed with its shares. For races across instances.
import { after, before } from 'node:test';
import { loadConfig } from '../../src/services/config-loader.ts';
import { readDevShares } from '../../src/services/dev-shares.ts';
import { openEnclave, type Enclave } from '../../src/services/enclave.ts';
import type { LogEventType } from '../../src/core/event-log.ts';
import { hold } from './hold.ts';
import { makeHttpFixture, type HttpFixture } from './http.ts';
import { dropSchemas, freshSchema, postgresConfig } from './postgres.ts';

export type Backend = 'PostgreSQL' | 'SQLite';

/** A settled promise: its value, or the error it failed with. */
export async function settle<T>(p: Promise<T>): Promise<T | Error> {
  return p.then(
    (v) => v,
    (e: unknown) => e as Error,
  );
}

/** The error code of a settled outcome, if it failed with one. */
export const codeOf = (outcome: unknown): string | undefined => (outcome instanceof Error ? (outcome as { code?: string }).code : undefined);

/** Opens A and B before the suite's tests (no shared-state timer: tests refresh when they mean to) and closes them after; `prefix` names the PostgreSQL schemas. */
export function twoInstances(backend: Backend, prefix: string): { readonly a: HttpFixture; readonly b: Enclave } {
  const NO_TIMER = 3_600_000;
  const schemas = { control: freshSchema(`${prefix}_control`), us: freshSchema(`${prefix}_us`), eu: freshSchema(`${prefix}_eu`), log: freshSchema(`${prefix}_log`) };
  let a: HttpFixture | undefined;
  let b: Enclave | undefined;
  before(async () => {
    const open = { sharedStateRefreshMs: NO_TIMER, instance: 'a' };
    a = await makeHttpFixture(backend === 'PostgreSQL' ? { config: (yaml) => postgresConfig(yaml, schemas), open } : { open });
    b = await openEnclave(loadConfig(a.configPath), { sharedStateRefreshMs: NO_TIMER, instance: 'b' });
    for (const share of readDevShares(a.dataDir) ?? []) await b.seal.submit(share);
  });
  after(async () => {
    await b?.close();
    await a?.close();
    if (backend === 'PostgreSQL') await dropSchemas(...Object.values(schemas));
  });
  const opened = <T>(x: T | undefined): T => {
    if (x === undefined) throw new Error('the two instances are opened in before()');
    return x;
  };
  return {
    get a() {
      return opened(a);
    },
    get b() {
      return opened(b);
    },
  };
}

/**
 * Runs `first` through instance A held at its `type` entry (durable, its row not yet stored), `second`
 * meanwhile; then lets `first` go. Both outcomes are returned, errors as values.
 */
export async function raceAtEntry<T>(two: { readonly a: HttpFixture }, type: LogEventType, first: () => Promise<unknown>, second: () => Promise<T>): Promise<{ first: unknown; second: T | Error }> {
  const held = hold(two.a.enclave.log, 'append', (event) => event.type === type, { once: true, afterCall: true });
  try {
    const running = settle(first());
    await held.reached;
    const other = await settle(second());
    held.release();
    return { first: await running, second: other };
  } finally {
    held.release();
    held.restore();
  }
}
