// `npm run bench:log [-- --quick]`: the transparency log's benchmark (issue 4, point 8).
//  1. Durable appends/s through the log service with group commit, while the integrator signs a
//     checkpoint at the configured default interval; append acknowledgement and append-to-checkpoint latency.
//  2. Growth: a log of 10 million entries (1 million with --quick) built directly through the store,
//     integrated by the service, then inclusion and consistency proofs timed at that size.
//  3. Memory (RSS, V8 heap) sampled through both, as the log grows.
// Full runs write their section of docs/benchmarks.md; --quick writes bench/.work/benchmarks-log-quick.md.
import { randomBytes } from 'node:crypto';
import { rmSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJsonBytes } from '../src/core/canonical-json.ts';
import { encodeLogEntry } from '../src/core/log-entry.ts';
import type { LogEntryRow } from '../src/core/log-store.ts';
import { checkRecord, leafHash } from '../src/core/tlog/merkle.ts';
import { decodeBase64 } from '../src/core/tlog/encoding.ts';
import { LOG_DEFAULTS } from '../src/core/config.ts';
import { LogService } from '../src/services/log-service.ts';
import { SqliteLogStore } from '../src/storage/sqlite/sqlite-log-store.ts';
import { countCommits } from './commit-counter.ts';
import { describeMachine } from './machine.ts';
import { parseQuick } from './options.ts';
import { quantiles, renderLogSection, type AppendFigures, type GrowthFigures, type RssSample } from './log-report.ts';
import { LOG_SECTION, writeSection } from './report-sections.ts';

const USAGE = `usage: npm run bench:log [-- --quick]

  --quick   3 s of appends and a 1,000,000-entry log (instead of 20 s and 10,000,000): a sanity check;
            the report goes to bench/.work/benchmarks-log-quick.md instead of docs/benchmarks.md
  --help    this text
`;

const quick = parseQuick(USAGE);
const ROOT = join(import.meta.dirname, '..');
const WORK = join(import.meta.dirname, '.work', 'log-bench');
const APPEND_SECONDS = quick ? 3 : 20;
const CONCURRENCY = 1000;
const GROWTH = quick ? 1_000_000 : 10_000_000;
const BULK_BATCH = 20_000;
const PROOFS = 1000;

const rss: RssSample[] = [];
function sample(phase: string, entries: number): void {
  const m = process.memoryUsage();
  rss.push({ phase, entries, rss: m.rss, heapUsed: m.heapUsed });
}

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

async function appends(): Promise<AppendFigures> {
  const dir = join(WORK, 'appends');
  rmSync(dir, { recursive: true, force: true });
  const { store, commits } = countCommits(new SqliteLogStore({ path: join(dir, 'log.db') }));
  const log = new LogService({ store, origin: 'bench.enclave/log', checkpointIntervalMs: LOG_DEFAULTS.checkpointIntervalMs });
  await log.unsealed(randomBytes(32));
  const subjects = Array.from({ length: 10_000 }, (_, i) => `u${String(i).padStart(6, '0')}`);
  const event = (i: number) => ({
    type: 'access.decision' as const,
    principal: { id: `service-${i % 8}`, org: 'platform', role: 'service' },
    subject: subjects[i % subjects.length] ?? 'u0',
    details: { action: 'record.read', allow: true, release: 'protected', policies: ['builtin/role-actions', 'builtin/role-reads'], collection: 'messages', records: 1, withheld: [] },
  });
  const entryBytes = encodeLogEntry({ v: 1, type: 'access.decision', time: new Date().toISOString(), principal: event(0).principal, subject: 'a'.repeat(64), details: event(0).details }).bytes.byteLength;

  const ack: number[] = [];
  const toCheckpoint: number[] = [];
  const pending: { index: number; t0: number }[] = [];
  const published: number[] = [];
  log.onPublish((cp) => {
    const now = performance.now();
    published.push(now);
    while (pending.length > 0 && (pending[0]?.index ?? Infinity) < cp.size) toCheckpoint.push(now - (pending.shift()?.t0 ?? now));
  });
  log.start((err) => say(`integrator: ${String(err)}`));
  sample('appends: start', 0);
  const sampler = setInterval(() => sample('appends', ack.length), 1000);

  const started = performance.now();
  const end = started + APPEND_SECONDS * 1000;
  let n = 0;
  const worker = async () => {
    while (performance.now() < end) {
      const i = n++;
      const t0 = performance.now();
      const { index } = await log.append(event(i));
      ack.push(performance.now() - t0);
      // Sample one entry in 16 for the append-to-checkpoint latency (indexes arrive in order per commit).
      if (index % 16 === 0) {
        let at = pending.length;
        while (at > 0 && (pending[at - 1]?.index ?? 0) > index) at--;
        pending.splice(at, 0, { index, t0 });
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - started) / 1000;
  await log.sync();
  clearInterval(sampler);
  sample('appends: end', ack.length);
  const gaps = published.slice(1).map((t, i) => t - (published[i] ?? t));
  await log.close();
  return {
    seconds: Math.round(seconds * 10) / 10,
    concurrency: CONCURRENCY,
    appends: ack.length,
    commits: commits(),
    ackMs: quantiles(ack),
    toCheckpointMs: quantiles(toCheckpoint),
    checkpoints: published.length,
    maxCheckpointGapMs: Math.max(0, ...gaps),
    entryBytes,
  };
}

async function growth(): Promise<GrowthFigures> {
  const dir = join(WORK, 'growth');
  rmSync(dir, { recursive: true, force: true });
  const path = join(dir, 'log.db');
  const store = new SqliteLogStore({ path });
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  say(`building a log of ${GROWTH.toLocaleString('en-US')} entries through the store…`);
  sample('bulk append: start', 0);
  const buildStart = performance.now();
  for (let first = 0; first < GROWTH; first += BULK_BATCH) {
    const rows: LogEntryRow[] = [];
    for (let i = first; i < Math.min(GROWTH, first + BULK_BATCH); i++) {
      const time = t0 + i;
      // Short entries (the subject hash left out) keep a 10-million-entry build quick; the size of the
      // entries does not change the cost of a proof, which reads only tiles.
      const body = canonicalJsonBytes({ v: 1, type: 'access.decision', time: new Date(time).toISOString(), principal: null, subject: null, details: { i } });
      rows.push({ time, type: 'access.decision', principal: null, subject: null, body });
    }
    await store.append(rows);
    if ((first / BULK_BATCH) % 50 === 0) sample('bulk append', first + rows.length);
  }
  const buildSeconds = (performance.now() - buildStart) / 1000;
  sample('bulk append: end', GROWTH);
  await store.close();

  say('integrating…');
  const log = new LogService({ store: new SqliteLogStore({ path }), origin: 'bench.enclave/log' });
  await log.unsealed(randomBytes(32));
  const sampler = setInterval(() => sample('integration', 0), 2000);
  const integrateStart = performance.now();
  const cp = await log.sync();
  const integrateSeconds = (performance.now() - integrateStart) / 1000;
  clearInterval(sampler);
  if (cp?.size !== GROWTH) throw new Error(`integration ended at ${String(cp?.size)}`);
  sample('integrated', GROWTH);
  // Integration samples carry the size once known.
  for (const s of rss) if (s.phase === 'integration') Object.assign(s, { entries: GROWTH });

  say('proving…');
  const coldStart = performance.now();
  await log.inclusionProof(Math.floor(GROWTH / 3));
  const inclusionColdMs = performance.now() - coldStart;
  const times: number[] = [];
  let checked = 0;
  for (let k = 0; k < PROOFS; k++) {
    const index = Math.floor(Math.random() * GROWTH);
    const s = performance.now();
    const p = await log.inclusionProof(index);
    times.push(performance.now() - s);
    if (k % 100 === 0) {
      const [body] = await log.store.readEntries(index, index + 1);
      if (!body) throw new Error(`no entry ${index}`);
      checkRecord(p.proof.map((h) => decodeBase64(h, 'hash')), cp.size, cp.root, index, leafHash(body));
      checked++;
    }
  }
  const cs = performance.now();
  await log.consistencyProof(Math.floor(GROWTH / 2));
  const consistencyMs = performance.now() - cs;
  sample('after proofs', GROWTH);
  await log.close();
  say(`${checked} proofs verified`);
  return {
    entries: GROWTH,
    buildSeconds,
    integrateSeconds,
    storeBytes: dirBytes(dir),
    inclusionMs: quantiles(times),
    inclusionColdMs,
    proofs: PROOFS,
    consistencyMs,
  };
}

const a = await appends();
say(`appends: ${Math.round(a.appends / a.seconds).toLocaleString('en-US')}/s`);
const g = await growth();
const report = { command: `npm run bench:log${quick ? ' -- --quick' : ''}`, when: new Date(), quick, machine: describeMachine(), appends: a, growth: g, rss };
const section = renderLogSection(report);
const out = quick ? join(import.meta.dirname, '.work', 'benchmarks-log-quick.md') : join(ROOT, 'docs', 'benchmarks.md');
writeSection(out, LOG_SECTION, section);
process.stdout.write(`${section}\n\nwritten to ${out}\n`);
rmSync(WORK, { recursive: true, force: true });
