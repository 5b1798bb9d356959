// The transparency-log section of docs/benchmarks.md, written by `npm run bench:log` between its own
// markers (report-sections.ts); `npm run bench` (bench/report.ts) regenerates the rest of the page and carries it over.
import type { Machine } from './machine.ts';
import { quantile } from './stats.ts';

export interface Quantiles {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export function quantiles(values: readonly number[]): Quantiles {
  if (values.length === 0) return { p50: 0, p99: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: quantile(sorted, 1) };
}

export interface AppendFigures {
  readonly seconds: number;
  readonly concurrency: number;
  readonly appends: number;
  readonly commits: number;
  readonly ackMs: Quantiles;
  readonly toCheckpointMs: Quantiles;
  readonly checkpoints: number;
  readonly maxCheckpointGapMs: number;
  readonly entryBytes: number;
}

export interface GrowthFigures {
  readonly entries: number;
  readonly buildSeconds: number;
  readonly integrateSeconds: number;
  readonly storeBytes: number;
  readonly inclusionMs: Quantiles;
  readonly inclusionColdMs: number;
  readonly proofs: number;
  readonly consistencyMs: number;
}

export interface RssSample {
  readonly phase: string;
  readonly entries: number;
  readonly rss: number;
  readonly heapUsed: number;
}

export interface LogReport {
  readonly command: string;
  readonly when: Date;
  readonly quick: boolean;
  readonly machine: Machine;
  readonly appends: AppendFigures;
  readonly growth: GrowthFigures;
  readonly rss: readonly RssSample[];
}

export const LOG_TARGETS = { appendsPerSecond: 20_000, checkpointGapMs: 1000 } as const;

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(0));
const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

export function renderLogSection(r: LogReport): string {
  const a = r.appends;
  const g = r.growth;
  const rate = a.appends / a.seconds;
  const met = (ok: boolean) => (ok ? 'yes' : '**no**');
  const lines = [
    '## Transparency log',
    '',
    `\`${r.command}\` (bench/log.ts), ${r.when.toISOString().replace(/\.\d+Z$/, 'Z')}, on the machine above (${r.machine.cores} cores, Node ${r.machine.node}, SQLite ${r.machine.sqlite})${r.quick ? '. **Quick run: short and small, a sanity check only.**' : '.'}`,
    '',
    `The log service (src/services/log-service.ts) on its own SQLite file, in the bench process: ${int(a.concurrency)} concurrent callers append \`access.decision\` entries like the vault's (${int(a.entryBytes)} bytes of canonical JSON each) for ${a.seconds} s while the integrator extends the tree, writes tiles and signs a checkpoint at the default interval of \`log.checkpoint_interval_ms\` (no witnesses). An append counts when its promise resolved, that is once its group's transaction was committed with \`synchronous=FULL\` (fsync).`,
    '',
    '| | |',
    '|---|---:|',
    `| Durable appends/s | ${int(rate)} |`,
    `| Commits (group commit: entries per fsync) | ${int(a.commits)} (${(a.appends / Math.max(1, a.commits)).toFixed(0)} per commit) |`,
    `| Append acknowledged (durable), p50 / p99 / max | ${ms(a.ackMs.p50)} / ${ms(a.ackMs.p99)} / ${ms(a.ackMs.max)} ms |`,
    `| Append to inclusion in a signed checkpoint, p50 / p99 / max | ${ms(a.toCheckpointMs.p50)} / ${ms(a.toCheckpointMs.p99)} / ${ms(a.toCheckpointMs.max)} ms |`,
    `| Checkpoints signed, longest gap between two | ${int(a.checkpoints)}, ${int(a.maxCheckpointGapMs)} ms |`,
    '',
    `**Growth to ${int(g.entries)} entries.** Built directly through the store (\`LogStore.append\` in transactions of 20,000, with short entries and no subject or principal, so the bulk load is quick), then integrated by the log service from its stored state, as after a restart.`,
    '',
    '| | |',
    '|---|---:|',
    `| Bulk append through the store | ${g.buildSeconds.toFixed(1)} s (${int(g.entries / g.buildSeconds)} entries/s) |`,
    `| Integration (read back, hash, write tiles, sign) | ${g.integrateSeconds.toFixed(1)} s (${int(g.entries / g.integrateSeconds)} entries/s) |`,
    `| Log store on disk | ${mib(g.storeBytes)} |`,
    `| Inclusion proof at ${int(g.entries)} entries, first (cold tile cache) | ${ms(g.inclusionColdMs)} ms |`,
    `| Inclusion proof, ${int(g.proofs)} random entries, p50 / p99 / max | ${ms(g.inclusionMs.p50)} / ${ms(g.inclusionMs.p99)} / ${ms(g.inclusionMs.max)} ms |`,
    `| Consistency proof from half the size | ${ms(g.consistencyMs)} ms |`,
    '',
    '**Memory as the log grows** (the bench process: resident set and V8 heap in use, sampled):',
    '',
    '| Phase | Entries | RSS | Heap used |',
    '|---|---:|---:|---:|',
    ...r.rss.map((s) => `| ${s.phase} | ${int(s.entries)} | ${mib(s.rss)} | ${mib(s.heapUsed)} |`),
    '',
    '| Target | Measured | Met |',
    '|---|---|---|',
    `| ≥ ${int(LOG_TARGETS.appendsPerSecond)} durable appends/s | ${int(rate)} /s | ${met(rate >= LOG_TARGETS.appendsPerSecond)} |`,
    `| a checkpoint at least every second | longest gap ${int(a.maxCheckpointGapMs)} ms | ${met(a.maxCheckpointGapMs <= LOG_TARGETS.checkpointGapMs)} |`,
    '',
    'The service keeps the right frontier (one hash per set bit of the size), the rightmost tile of each level and a bounded cache of full tiles; entries are never held beyond their commit, so memory does not follow the log\'s size. Gated reads with the log on are measured by `npm run bench` (every read appends its `access.decision` entry before it answers).',
  ];
  return lines.join('\n');
}
