// The transparency-log storage conformance suite: every LogStore adapter (SQLite, PostgreSQL) runs it, so the log service can rely on identical behaviour whichever store holds the log.
//
// `open` returns a ready store. It may be a fresh database per call or the same one again: every test
// works relative to the size, tree size and latest checkpoint it finds, and tags its rows with a
// namespace of its own. Each store is closed after its test; `cleanup` runs once after the suite.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { canonicalJson } from '../../src/core/canonical-json.ts';
import { isEnclaveError } from '../../src/core/errors.ts';
import type { LogValue } from '../../src/core/event-log.ts';
import { decodeLogEntry, subjectHash, type LogEntryDraft } from '../../src/core/log-entry.ts';
import type { LogEntryRow, LogStore, LogTile } from '../../src/core/log-store.ts';
import { leafHash } from '../../src/core/tlog/merkle.ts';
import { SUBJECT_EPOCH } from '../../src/storage/log-search.ts';
import { openPerTest } from './suite-lifecycle.ts';

// Timestamps beyond 2^32 and 2^41 catch adapters that truncate to 32-bit integers.
const T0 = 2 ** 41 + 123;
const hex = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : Buffer.from(b).toString('hex'));

export function logStoreConformance(
  name: string,
  open: () => Promise<LogStore> | LogStore,
  cleanup?: () => Promise<void>,
  options: { skip?: string | false; /** The store has appendEntries (finishes drafts itself). */ finishesEntries?: boolean } = {},
): void {
  void describe(`LogStore conformance: ${name}`, { skip: options.skip ?? false }, () => {
    let store: LogStore;
    /** A prefix unique to the running test, so tests never see each other's rows. */
    let ns: string;
    openPerTest(open, cleanup, (s, n) => {
      store = s;
      ns = n;
    });

    const entry = (n: number, over: Partial<LogEntryRow> = {}): LogEntryRow => ({
      time: T0 + n,
      type: 'access.decision',
      principal: `${ns}-p`,
      subject: `${ns}-s`,
      // Zero bytes inside: drivers that treat BLOBs as C strings lose everything after one.
      body: Buffer.concat([Buffer.from(`{"n":${n},"ns":"${ns}"}`), Buffer.of(0, 255, 0)]),
      ...over,
    });

    void describe('entries', () => {
      void it('append assigns the next indexes densely and readEntries returns the exact bytes in order', async () => {
        const base = await store.size();
        const rows = [entry(0), entry(1), entry(2, { principal: null, subject: null })];
        assert.equal(await store.append(rows), base);
        assert.equal(await store.size(), base + 3);
        assert.equal(await store.append([entry(3)]), base + 3);
        const read = await store.readEntries(base, base + 4);
        assert.deepEqual(read.map(hex), [...rows, entry(3)].map((r) => hex(r.body)));
        assert.deepEqual((await store.readEntries(base + 2, base + 100)).map(hex), [hex(rows[2]?.body), hex(entry(3).body)], 'a range past the end returns what exists');
        assert.deepEqual(await store.readEntries(base + 4, base + 9), []);
      });

      void it('keeps an entry of 65,535 bytes (the largest an entry bundle can carry) intact', async () => {
        const body = randomBytes(0xffff);
        const at = await store.append([entry(0, { body })]);
        assert.equal(hex((await store.readEntries(at, at + 1))[0]), hex(body));
      });

      void it('concurrent appends get distinct, dense, contiguous ranges', async () => {
        const base = await store.size();
        const batches = Array.from({ length: 40 }, (_, b) => Array.from({ length: 1 + (b % 5) }, (_, i) => entry(b * 10 + i)));
        const firsts = await Promise.all(batches.map((rows) => store.append(rows)));
        const taken = new Set<number>();
        firsts.forEach((first, b) => {
          for (let i = 0; i < (batches[b]?.length ?? 0); i++) {
            assert.ok(!taken.has(first + i), `index ${first + i} given twice`);
            taken.add(first + i);
          }
        });
        const total = batches.reduce((n, rows) => n + rows.length, 0);
        assert.equal(taken.size, total);
        assert.equal(Math.min(...taken), base);
        assert.equal(Math.max(...taken), base + total - 1);
        // Each batch's entries sit at its range, in order.
        for (const [b, rows] of batches.entries()) {
          const first = firsts[b] ?? -1;
          assert.deepEqual((await store.readEntries(first, first + rows.length)).map(hex), rows.map((r) => hex(r.body)));
        }
      });

      void it('append is one transaction: a row the store refuses rolls back the whole batch', async () => {
        const base = await store.size();
        const bad = { ...entry(1), body: null as unknown as Uint8Array };
        await assert.rejects(store.append([entry(0), bad]));
        assert.equal(await store.size(), base);
        assert.equal(await store.append([entry(2)]), base, 'the refused batch left no gap');
      });
    });

    // Optional in the port: a store with a writer thread of its own finishes drafts there. A store
    // declared without it (PostgreSQL) must not have it, so the service finishes entries before `append`.
    void it(
      options.finishesEntries
        ? 'appendEntries finishes drafts under the given key, stores rows as they are, and refuses a bad item alone'
        : 'has no appendEntries: the log service finishes every entry before append',
      async () => {
        const appendEntries = store.appendEntries?.bind(store);
        if (!options.finishesEntries) {
          assert.equal(appendEntries, undefined);
          return;
        }
        assert.ok(appendEntries, `${name} is declared to finish entries but has no appendEntries`);
        const key = randomBytes(32);
        const keyBefore = Buffer.from(key);
        const draft = (i: number, subjectId: string | null, details: Record<string, LogValue> = { i, ns }): LogEntryDraft => ({
          v: 1,
          type: 'access.decision',
          time: new Date(T0 + i).toISOString(),
          principal: { id: `${ns}-p`, org: 'platform', role: 'service' },
          subjectId,
          details,
        });
        const base = await store.size();
        const { outcomes, leafHashes } = await appendEntries([draft(0, `${ns}-alice`), entry(1), draft(2, null, { too: 'x'.repeat(70_000) }), draft(3, null)], key);
        assert.deepEqual(outcomes.slice(0, 2), [base, base + 1]);
        assert.ok(isEnclaveError(outcomes[2], 'log_unavailable'), 'the oversized draft is refused');
        assert.equal(outcomes[3], base + 2, 'the item after the refused one takes the next index: no gap');
        assert.deepEqual(keyBefore, key, "the caller's key is left as it was");
        const [first, second, third] = await store.readEntries(base, base + 3);
        const stored = decodeLogEntry(first ?? new Uint8Array());
        assert.equal(stored.subject, subjectHash(key, `${ns}-alice`));
        assert.equal(canonicalJson(stored), Buffer.from(first ?? []).toString(), 'stored in canonical form');
        assert.equal(hex(second), hex(entry(1).body));
        assert.equal(decodeLogEntry(third ?? new Uint8Array()).subject, null);
        // The leaf hash of each entry stored (not of the refused one), of the bytes as stored.
        assert.equal(hex(leafHashes), [first, second, third].map((b) => hex(leafHash(b ?? new Uint8Array()))).join(''));
        const sealed = await appendEntries([draft(4, `${ns}-bob`), draft(5, null)], null);
        assert.ok(isEnclaveError(sealed.outcomes[0], 'sealed'), 'a draft naming a subject without a key is refused');
        assert.equal(sealed.outcomes[1], base + 3);
        const [fifth] = await store.readEntries(base + 3, base + 4);
        assert.equal(hex(sealed.leafHashes), hex(leafHash(fifth ?? new Uint8Array())));
      },
    );

    void describe('search', () => {
      async function seed(): Promise<{ base: number; rows: LogEntryRow[] }> {
        const rows = [
          entry(0, { type: 'record.created', principal: `${ns}-alice`, subject: `${ns}-s1` }),
          entry(10, { type: 'access.decision', principal: `${ns}-bob`, subject: `${ns}-s1` }),
          entry(20, { type: 'access.decision', principal: `${ns}-alice`, subject: `${ns}-s2` }),
          entry(30, { type: 'token.issued', principal: null, subject: null }),
          entry(40, { type: 'access.decision', principal: `${ns}-alice`, subject: `${ns}-s1` }),
        ];
        const base = await store.append(rows);
        // Integrate everything appended so far (no tiles needed here): subjects are searchable once integrated.
        assert.equal(await store.integrate(await store.treeSize(), await store.size(), []), true);
        return { base, rows };
      }
      const idx = (found: readonly { index: number }[]) => found.map((e) => e.index);

      void it('filters by principal, subject, type and time range, alone and combined, in index order', async () => {
        const { base } = await seed();
        const mine = { after: base - 1, limit: 100 };
        assert.deepEqual(idx(await store.search({ ...mine, principal: `${ns}-alice` })), [base, base + 2, base + 4]);
        assert.deepEqual(idx(await store.search({ ...mine, subject: `${ns}-s1` })), [base, base + 1, base + 4]);
        assert.deepEqual(idx(await store.search({ ...mine, subject: `${ns}-s1`, type: 'access.decision' })), [base + 1, base + 4]);
        assert.deepEqual(idx(await store.search({ ...mine, principal: `${ns}-alice`, subject: `${ns}-s1`, type: 'access.decision' })), [base + 4]);
        assert.deepEqual(idx(await store.search({ ...mine, principal: `${ns}-alice`, from: T0 + 10, to: T0 + 40 })), [base + 2], 'from is inclusive, to exclusive');
        assert.deepEqual(idx(await store.search({ ...mine, subject: `${ns}-nobody` })), []);
      });

      void it('finds by subject only entries integrated into the tree', async () => {
        const { base } = await seed();
        const late = await store.append([entry(50, { subject: `${ns}-s1` })]);
        const bySubject = async () => idx(await store.search({ after: base - 1, limit: 100, subject: `${ns}-s1` }));
        assert.deepEqual(await bySubject(), [base, base + 1, base + 4]);
        assert.equal(await store.integrate(await store.treeSize(), await store.size(), []), true);
        assert.deepEqual(await bySubject(), [base, base + 1, base + 4, late]);
      });

      void it('finds a subject across epochs of the subject index, in index order, paging by after, before and limit', async () => {
        // Entries of one subject spread over more than two epochs of SUBJECT_EPOCH entries, among others'.
        const base = await store.size();
        const n = 2 * SUBJECT_EPOCH + 100;
        const mineAt = (i: number) => i % 997 === 0 || i === SUBJECT_EPOCH - 1 || i === SUBJECT_EPOCH || i === n - 1;
        for (let from = 0; from < n; from += 8192) {
          const rows = Array.from({ length: Math.min(8192, n - from) }, (_, k) => entry(from + k, { subject: mineAt(from + k) ? `${ns}-far` : `${ns}-other-${(from + k) % 13}` }));
          await store.append(rows);
        }
        assert.equal(await store.integrate(await store.treeSize(), await store.size(), []), true);
        const want = Array.from({ length: n }, (_, i) => i).filter(mineAt).map((i) => base + i);
        const q = { subject: `${ns}-far`, after: base - 1 };
        assert.deepEqual(idx(await store.search({ ...q, limit: 1000 })), want);
        // Paging with the cursor crosses epoch boundaries without losing or repeating an entry.
        const paged: number[] = [];
        for (let after = base - 1; ; ) {
          const page = idx(await store.search({ ...q, after, limit: 7 }));
          paged.push(...page);
          if (page.length < 7) break;
          after = page.at(-1) ?? after;
        }
        assert.deepEqual(paged, want);
        const before = base + SUBJECT_EPOCH + 1;
        assert.deepEqual(idx(await store.search({ ...q, before, limit: 1000 })), want.filter((i) => i < before));
        assert.deepEqual(idx(await store.search({ ...q, after: base + SUBJECT_EPOCH - 1, before, limit: 1000 })), [base + SUBJECT_EPOCH]);
        // Cursors far past the log (any safe integer) answer nothing or everything, without an error and
        // without probing an epoch per 16,384 indexes up to them.
        assert.deepEqual(idx(await store.search({ ...q, after: Number.MAX_SAFE_INTEGER - 1, limit: 10 })), []);
        assert.deepEqual(idx(await store.search({ ...q, before: Number.MAX_SAFE_INTEGER, limit: 1000 })), want);
      });

      void it('returns the stored columns and body of each match', async () => {
        const { base, rows } = await seed();
        const [found] = await store.search({ after: base + 2, before: base + 4, limit: 10 });
        const r = rows[3];
        assert.ok(found && r);
        assert.deepEqual({ ...found, body: hex(found.body) }, { index: base + 3, time: r.time, type: r.type, principal: null, subject: null, body: hex(r.body) });
      });

      void it('pages with after, stops at before, and honours limit', async () => {
        const { base } = await seed();
        const q = { principal: `${ns}-alice`, limit: 2 };
        const page1 = await store.search({ ...q, after: base - 1 });
        assert.deepEqual(idx(page1), [base, base + 2]);
        assert.deepEqual(idx(await store.search({ ...q, after: base + 2 })), [base + 4]);
        assert.deepEqual(idx(await store.search({ ...q, after: base - 1, before: base + 2 })), [base]);
        assert.deepEqual(idx(await store.search({ ...q, after: base - 1, limit: 1 })), [base]);
      });
    });

    void describe('tree state', () => {
      const tile = (level: number, index: number, width: number, fill: number): LogTile => ({ level, index, width, data: Buffer.alloc(width * 32, fill) });

      void it('integrate stores tiles and the new tree size together, as a compare-and-set on the size', async () => {
        const from = await store.treeSize();
        const level = 40 + (from % 20); // a tile coordinate no other test run uses at this size
        assert.equal(await store.integrate(from, from + 3, [tile(level, from, 3, 1)]), true);
        assert.equal(await store.treeSize(), from + 3);
        const stored = await store.readTile(level, from);
        assert.deepEqual({ ...stored, data: hex(stored?.data) }, { ...tile(level, from, 3, 1), data: hex(tile(level, from, 3, 1).data) });
        // A second integrator that started from the old size is refused and changes nothing.
        assert.equal(await store.integrate(from, from + 5, [tile(level, from, 5, 9)]), false);
        assert.equal(await store.treeSize(), from + 3);
        assert.equal(hex((await store.readTile(level, from))?.data), hex(tile(level, from, 3, 1).data));
      });

      void it('a tile only ever widens: the stored version is the widest written', async () => {
        const from = await store.treeSize();
        const level = 40 + (from % 20);
        assert.equal(await store.integrate(from, from + 1, [tile(level, from + 1000, 200, 2)]), true);
        assert.equal(await store.integrate(from + 1, from + 2, [tile(level, from + 1000, 256, 3)]), true);
        assert.equal(await store.integrate(from + 2, from + 3, [tile(level, from + 1000, 10, 4)]), true);
        const t = await store.readTile(level, from + 1000);
        assert.equal(t?.width, 256);
        assert.equal(hex(t?.data), hex(tile(level, from + 1000, 256, 3).data));
        assert.equal(await store.readTile(level, from + 1001), undefined);
      });

      /** A checkpoint's text as the service stores it (C2SP tlog-checkpoint: origin, size, root; then signatures). */
      const note = (size: number, root: string, signatures: string) => `${ns}.example/log\n${size}\n${root}\n\n— ${signatures}\n`;
      const rootA = Buffer.alloc(32, 0xaa).toString('base64');
      const rootB = Buffer.alloc(32, 0xbb).toString('base64');

      void it('checkpoints: a larger size is published, the same size with the same root replaces, a smaller one is refused', async () => {
        const latest = (await store.latestCheckpoint())?.size ?? 0;
        const size = latest + 10;
        assert.equal(await store.putCheckpoint({ size, time: T0, text: note(size, rootA, 'log') }), true);
        assert.deepEqual(await store.latestCheckpoint(), { size, time: T0, text: note(size, rootA, 'log') });
        assert.equal(await store.putCheckpoint({ size, time: T0 + 1, text: note(size, rootA, 'log, witness') }), true, 'the same tree with more cosignatures');
        assert.deepEqual(await store.latestCheckpoint(), { size, time: T0 + 1, text: note(size, rootA, 'log, witness') });
        assert.equal(await store.putCheckpoint({ size: size - 1, time: T0 + 2, text: note(size - 1, rootA, 'rollback') }), false);
        assert.equal((await store.latestCheckpoint())?.text, note(size, rootA, 'log, witness'));
      });

      void it('checkpoints: another root at the stored size is a fork (RFC 9162 §2.1.4) and is refused, the stored one kept', async () => {
        const size = ((await store.latestCheckpoint())?.size ?? 0) + 10;
        assert.equal(await store.putCheckpoint({ size, time: T0, text: note(size, rootA, 'log') }), true);
        assert.equal(await store.putCheckpoint({ size, time: T0 + 1, text: note(size, rootB, 'log, witness') }), false, 'two roots at one size');
        assert.equal(await store.putCheckpoint({ size, time: T0 + 2, text: `${ns}.example/log\n${size}\n` }), false, 'a text without a root is not the same tree');
        // Concurrent publishers of the two roots: whichever is stored first stays.
        const next = size + 1;
        const raced = await Promise.all([rootA, rootB].map((root) => store.putCheckpoint({ size: next, time: T0 + 3, text: note(next, root, 'log') })));
        const kept = await store.latestCheckpoint();
        assert.ok(kept?.size === next && [note(next, rootA, 'log'), note(next, rootB, 'log')].includes(kept.text));
        const winner = kept.text.includes(rootA) ? rootA : rootB;
        assert.deepEqual(raced, [rootA, rootB].map((root) => root === winner), 'only the root stored first was accepted');
        // The larger size is taken as before; the fork at the old size no longer matters for it.
        assert.equal(await store.putCheckpoint({ size: next + 1, time: T0 + 4, text: note(next + 1, rootB, 'log') }), true);
        assert.equal((await store.latestCheckpoint())?.text, note(next + 1, rootB, 'log'));
      });

      void it('meta values are written once', async () => {
        assert.equal(await store.getMeta(`${ns}-k`), undefined);
        assert.equal(await store.putMetaIfAbsent(`${ns}-k`, 'first'), true);
        assert.equal(await store.putMetaIfAbsent(`${ns}-k`, 'second'), false);
        assert.equal(await store.getMeta(`${ns}-k`), 'first');
      });
    });

    void describe('sequencer lease', () => {
      void it('is taken, confirmed by its holder and recorded with its instance name', async () => {
        assert.equal(await store.leadSequencer(`${ns}-a`), true);
        const first = await store.sequencer();
        assert.equal(first?.instance, `${ns}-a`);
        assert.equal(first.held, true);
        assert.ok(first.heartbeatAgeMs >= 0 && first.heartbeatAgeMs < 60_000, `heartbeat age ${first.heartbeatAgeMs} ms`);
        assert.equal(await store.leadSequencer(`${ns}-a`), true, 'the holder keeps it');
        assert.equal((await store.sequencer())?.since, first.since, 'a heartbeat keeps the time it was taken');
      });

      void it('is let go by releaseSequencer, and can be taken again', async () => {
        assert.equal(await store.leadSequencer(`${ns}-a`), true);
        await store.releaseSequencer();
        assert.equal((await store.sequencer())?.held, false, 'released: nobody holds it');
        assert.equal(await store.leadSequencer(`${ns}-b`), true);
        assert.deepEqual([(await store.sequencer())?.instance, (await store.sequencer())?.held], [`${ns}-b`, true]);
      });
    });

    void it('a closed store rejects every call instead of throwing synchronously', async () => {
      const other = await open();
      await other.close();
      await assert.rejects(other.append([entry(0)]));
      await assert.rejects(other.size());
      await assert.rejects(other.search({ limit: 1 }));
      await assert.rejects(other.leadSequencer('closed'));
    });
  });
}
