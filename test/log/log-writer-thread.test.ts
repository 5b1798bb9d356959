// The SQLite log's writer thread (sqlite-log-writer.ts) failing under the log service: a thread that dies
// is restarted (appends in flight fail with log_unavailable, later ones are stored), a thread that keeps
// dying leaves the log closed, and an entry too large to store never reaches the thread at all.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { isEnclaveError } from '../../src/core/errors.ts';
import type { LogValue } from '../../src/core/event-log.ts';
import { decodeLogEntry } from '../../src/core/log-entry.ts';
import { openCheckpoint } from '../../src/core/tlog/checkpoint.ts';
import { noteVerifier } from '../../src/core/tlog/note.ts';
import { LogService } from '../../src/services/log-service.ts';
import { SqliteLogStore } from '../../src/storage/sqlite/sqlite-log-store.ts';
import { logEvent } from '../helpers/log.ts';

const dir = mkdtempSync(join(tmpdir(), 'enclave-log-writer-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

// Every writer thread the store starts, newest last, so a test can kill it as a crash would. The store
// imports Worker from node:worker_threads; syncBuiltinESMExports hands it this subclass instead.
const threads = createRequire(import.meta.url)('node:worker_threads') as { Worker: typeof Worker };
const RealWorker = threads.Worker;
const started: Worker[] = [];
beforeEach(() => {
  started.length = 0;
  threads.Worker = class extends RealWorker {
    constructor(...args: ConstructorParameters<typeof Worker>) {
      super(...args);
      started.push(this);
    }
  };
  syncBuiltinESMExports();
});
afterEach(() => {
  threads.Worker = RealWorker;
  syncBuiltinESMExports();
});

function newest(): Worker {
  const w = started.at(-1);
  assert.ok(w, 'the store started a writer thread');
  return w;
}

/** A log on a file (so its writes run on a writer thread) whose next commit is sent to a thread that is being killed. */
function killable(): { log: LogService; store: SqliteLogStore; killAtNextCommit: () => void } {
  const store = new SqliteLogStore({ path: join(dir, `log-${++n}.db`) });
  let kill = false;
  const dying = Object.assign(Object.create(store) as SqliteLogStore, {
    appendEntries: (...args: Parameters<SqliteLogStore['appendEntries']>) => {
      // Killed first, then sent: the commit is in flight when the thread dies, and nothing answers it.
      if (kill) void newest().terminate();
      kill = false;
      return store.appendEntries(...args);
    },
  });
  return { log: new LogService({ store: dying, origin: 'enclave.test/log' }), store, killAtNextCommit: () => (kill = true) };
}

void describe('the SQLite log writer thread', () => {
  void it('is restarted when it dies: the appends in flight fail with log_unavailable, later ones are stored and signed', async () => {
    const { log, store, killAtNextCommit } = killable();
    await log.unsealed(randomBytes(32));
    assert.deepEqual(await Promise.all([0, 1, 2].map(async (i) => (await log.append(logEvent(i))).index)), [0, 1, 2]);
    const first = newest();

    killAtNextCommit();
    const inFlight = await Promise.allSettled([3, 4, 5].map((i) => log.append(logEvent(i))));
    for (const r of inFlight) assert.ok(r.status === 'rejected' && isEnclaveError(r.reason, 'log_unavailable'), String(r.status === 'rejected' ? r.reason : r.value));

    // The next appends go to a new thread and are stored after the others, with no gap.
    const later = await Promise.all([6, 7].map((i) => log.append(logEvent(i))));
    assert.notEqual(newest(), first, 'a new writer thread was started');
    assert.deepEqual(
      later.map((r) => r.index),
      [3, 4],
    );
    assert.deepEqual((await store.readEntries(0, 10)).map((b) => decodeLogEntry(b).details['i']), [0, 1, 2, 6, 7]);
    // The new thread integrates and the log signs over everything stored.
    const cp = await log.sync();
    const vkey = await log.vkey();
    assert.ok(cp && vkey);
    assert.equal(openCheckpoint(cp.text, noteVerifier(vkey)).checkpoint.size, 5);
    await log.close();
  });

  void it('refuses an entry too large to store before it reaches the thread: nothing is appended, and the log goes on', async () => {
    const store = new SqliteLogStore({ path: join(dir, `log-${++n}.db`) });
    const log = new LogService({ store, origin: 'enclave.test/log' });
    await log.unsealed(randomBytes(32));
    assert.equal((await log.append(logEvent(0))).index, 0);
    // 256 MiB of details: copied into the writer thread's heap (192 MiB), it took the whole process down.
    const huge = await log.append(logEvent(1, { details: { action: 'record.read', note: 'x'.repeat(2 ** 28) } })).then((r) => r, (e: unknown) => e);
    assert.ok(isEnclaveError(huge, 'log_unavailable'), String(huge));
    assert.match(huge.message, /over 65535 bytes/);
    // Large by its number of members rather than one string; and what JSON cannot hold, whose contents would cross unmeasured.
    const odd: Record<string, LogValue>[] = [{ list: Array.from({ length: 40_000 }, (_, i) => i) }, { action: 'record.read', map: new Map([['a', 1]]) as unknown as string }];
    for (const details of odd) {
      const r = await log.append(logEvent(2, { details })).then((x) => x, (e: unknown) => e);
      assert.ok(isEnclaveError(r, 'log_unavailable'), String(r));
    }
    assert.equal(await store.size(), 1, 'nothing of the refused entries was appended');
    // The bound is the entry limit itself: an entry just under it is still stored, and the log goes on.
    assert.equal((await log.append(logEvent(3, { details: { action: 'record.read', note: 'x'.repeat(65_000) } }))).index, 1);
    assert.equal((await log.append(logEvent(4))).index, 2);
    assert.equal((await log.sync())?.size, 3);
    await log.close();
  });

  void it('stays closed when the thread keeps dying: a crash loop is not restarted for ever', async () => {
    const { log, killAtNextCommit } = killable();
    await log.append(logEvent(0));
    const refused: unknown[] = [];
    // Each commit kills the thread it is sent to: a thread that dies at every write.
    for (let i = 1; i <= 6; i++) {
      killAtNextCommit();
      refused.push(await log.append(logEvent(i)).then((r) => r, (e: unknown) => e));
    }
    for (const r of refused) assert.ok(isEnclaveError(r, 'log_unavailable'), String(r));
    const threadsStarted = started.length;
    const after = await log.append(logEvent(9)).then((r) => r, (e: unknown) => e);
    assert.ok(isEnclaveError(after, 'log_unavailable'), 'a log whose writer keeps dying stays closed');
    assert.match(String((after as Error).cause), /died 4 times/, 'and says why');
    assert.equal(started.length, threadsStarted, 'no further thread is started');
    await log.close();
  });
});
