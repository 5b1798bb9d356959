// Writes docs/benchmarks.md from a run's figures. Everything is regenerated except the hand-written
// "how to read this" note between the markers, which is carried over from the existing file.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Breakdown } from './breakdown.ts';
import type { LoadResult, LoadSettings } from './load.ts';
import type { SoakResult } from './memory-soak.ts';
import type { Machine } from './machine.ts';
import type { MemoryStatus } from './proc-stats.ts';
import type { Category } from './profile-categories.ts';
import type { HotSpot } from './profile-summary.ts';
import { median } from './stats.ts';
import { keptSections } from './report-sections.ts';

export const NOTE_START = '<!-- hand-written:start (kept by the generator) -->';
export const NOTE_END = '<!-- hand-written:end -->';

const DEFAULT_NOTE = `_Write here how to read the figures; \`npm run bench\` keeps this note and regenerates the rest._`;

// The issue's "300 MB" read strictly: 300,000,000 bytes (286.1 MiB), the lower of its two readings.
export const TARGETS = { gatedPerSecond: 10_000, ratio: 0.5, rssBytes: 300_000_000, rssRecords: 1_000_000 } as const;

export interface ServerFigures {
  /** The server's best measured round. */
  readonly load: LoadResult;
  /** After all measured rounds (VmHWM is the peak over the process's whole life). */
  readonly memory: MemoryStatus;
}

export interface Round {
  readonly baseline: LoadResult;
  readonly gated: LoadResult;
}

/** One window per server with more concurrent clients than the rounds (not part of the targets' figures). */
export interface ConcurrencyRow extends Round {
  readonly connections: number;
}

export interface ProfileFigures {
  readonly seconds: number;
  readonly categories: readonly Category[];
  readonly hotSpots: readonly HotSpot[];
  readonly file: string;
}

export interface ReportInput {
  readonly command: string;
  readonly quick: boolean;
  readonly when: Date;
  readonly machine: Machine;
  readonly settings: LoadSettings;
  readonly dataset: {
    readonly records: number;
    readonly subjects: number;
    readonly recordsPerSubject: number;
    readonly dbBytes: number;
    readonly seededNow: boolean;
    readonly seedSeconds: number;
  };
  readonly baseline: ServerFigures;
  readonly gated: ServerFigures;
  readonly rounds: readonly Round[];
  readonly moreConnections: readonly ConcurrencyRow[];
  /** The gated server's VmHWM after those windows (they run last, after the soak). */
  readonly peakRssAfterMoreConnections?: number;
  readonly soak: SoakResult;
  /** The flags given for a trial (--server-node-flags); none when the servers run as the product does. */
  readonly serverNodeFlags: readonly string[];
  readonly gatedNodeFlags: readonly string[];
  readonly baselineNodeFlags: readonly string[];
  /** The variables the gated server runs with as `enclave serve` adds them (none where the bench's environment sets them). */
  readonly gatedEnv: Readonly<Record<string, string>>;
  readonly breakdown: Breakdown;
  readonly profile?: ProfileFigures;
}

export interface Verdict {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean | undefined;
  readonly comment: string;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const flagList = (flags: readonly string[]) => (flags.length === 0 ? 'none' : `\`${flags.join(' ')}\``);
const ms = (n: number) => `${n.toFixed(n < 10 ? 2 : 1)} ms`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const pct = (n: number) => `${n.toFixed(0)} %`;
const threadSplit = (l: LoadResult) => `${int(l.serverThreadMicrosPerRequest.main)} / ${int(l.serverThreadMicrosPerRequest.workers)} / ${int(l.serverThreadMicrosPerRequest.other)} µs`;

function bestOf(input: ReportInput): Round {
  return { baseline: input.baseline.load, gated: input.gated.load };
}

/** The gated server's peak RSS over its whole life, the soak included. */
export function gatedPeakRss(input: ReportInput): number {
  return Math.max(input.gated.memory.peakRss, ...input.soak.samples.map((x) => x.peakRss));
}

/** The median of the per-round ratios (each round's gated figure over the baseline figure just before it). */
export function medianRoundRatio(input: ReportInput): number {
  return median(input.rounds.map((r) => r.gated.requestsPerSecond / r.baseline.requestsPerSecond));
}

/** The baseline's best: its rounds' best or, if higher, one of its windows at other connection counts. */
export function baselinePeak(input: ReportInput): number {
  return Math.max(input.baseline.load.requestsPerSecond, ...input.moreConnections.map((r) => r.baseline.requestsPerSecond));
}

/** Gated (best round) over the baseline's peak at any connection count measured: never flattered by the choice of count. */
export function ratioOf(input: ReportInput): number {
  return input.gated.load.requestsPerSecond / baselinePeak(input);
}

export function verdicts(input: ReportInput): Verdict[] {
  const gated = input.gated.load.requestsPerSecond;
  const ratio = ratioOf(input);
  const rss = gatedPeakRss(input);
  const out: Verdict[] = [];
  const miss = (have: number, want: number, unit: (n: number) => string) => `short by ${unit(want - have)} (${(((want - have) / want) * 100).toFixed(0)} %)`;
  out.push({
    target: `≥ ${int(TARGETS.gatedPerSecond)} gated reads/s`,
    measured: `${int(gated)} /s`,
    met: gated >= TARGETS.gatedPerSecond,
    comment: gated >= TARGETS.gatedPerSecond ? `${((gated / TARGETS.gatedPerSecond - 1) * 100).toFixed(0)} % above` : miss(gated, TARGETS.gatedPerSecond, (n) => `${int(n)} reads/s`),
  });
  out.push({
    target: `gated / baseline ≥ ${TARGETS.ratio}`,
    measured: ratio.toFixed(2),
    met: ratio >= TARGETS.ratio,
    comment: ratio >= TARGETS.ratio ? 'met' : miss(ratio, TARGETS.ratio, (n) => n.toFixed(2)),
  });
  const enough = input.dataset.records >= TARGETS.rssRecords;
  out.push({
    target: `server RSS < 300 MB (${mib(TARGETS.rssBytes)}) with ${int(TARGETS.rssRecords)} records`,
    measured: `${mib(rss)} peak with ${int(input.dataset.records)} records${input.soak.settled ? '' : ' (still growing when the soak ended)'}`,
    met: enough ? rss < TARGETS.rssBytes : undefined,
    comment: !enough
      ? `not assessed: this run stored only ${int(input.dataset.records)} records`
      : rss < TARGETS.rssBytes
        ? `${mib(TARGETS.rssBytes - rss)} of headroom${input.soak.settled ? '' : ' so far'}`
        : `over by ${mib(rss - TARGETS.rssBytes)}`,
  });
  return out;
}

function readNote(path: string): string {
  if (!existsSync(path)) return DEFAULT_NOTE;
  const text = readFileSync(path, 'utf8');
  const start = text.indexOf(NOTE_START);
  const end = text.indexOf(NOTE_END);
  if (start < 0 || end < start) return DEFAULT_NOTE;
  return text.slice(start + NOTE_START.length, end).trim();
}

function observations(input: ReportInput): string[] {
  const notes: string[] = [];
  const { baseline, gated } = input;
  if (baseline.load.generatorCpuPercent >= 90) {
    notes.push(
      `The load generator used ${pct(baseline.load.generatorCpuPercent)} of a core during the baseline run while the baseline server used ${pct(baseline.load.serverCpuPercent)}: ` +
        'the baseline figure is at least partly bounded by the generator, so the true baseline is higher and the true ratio lower than shown.',
    );
  }
  if (gated.load.serverCpuPercent >= 90) {
    notes.push(
      `The gated server used ${pct(gated.load.serverCpuPercent)} of a core: it, not the generator, bounds the gated figure. Its main thread, which parses, decides, decrypts and answers every request, was ${pct(gated.load.mainThreadPercent)} busy at ${int(gated.load.serverThreadMicrosPerRequest.main)} µs per read` +
        (gated.load.mainThreadPercent >= 85 ? ': the bound.' : '; the rest of its time each read waited for its log entry\'s group commit.'),
    );
  }
  for (const [name, r] of [['baseline', baseline.load], ['gated', gated.load]] as const) {
    if (r.otherCpuPercent >= 15 || r.stealPercent >= 15) {
      notes.push(`During the ${name} run other processes used ${pct(r.otherCpuPercent)} of a core and the hypervisor stole ${pct(r.stealPercent)}: that run's figures are lower than on an idle machine.`);
    }
    if (r.non2xx > 0 || r.errors > 0) notes.push(`The ${name} run had ${int(r.non2xx)} non-2xx responses and ${int(r.errors)} connection errors; they are not counted as reads.`);
  }
  return notes;
}

export function renderReport(input: ReportInput, note: string): string {
  const { machine, settings, dataset, baseline, gated } = input;
  const ratio = ratioOf(input);
  const row = (label: string, a: string, b: string) => `| ${label} | ${a} | ${b} |`;
  const lines: string[] = [
    '# Benchmarks',
    '',
    '<!-- Generated by `npm run bench` (bench/run.ts): do not edit by hand except between the hand-written markers. -->',
    '',
    '## How to read this',
    '',
    NOTE_START,
    note,
    NOTE_END,
    '',
    '## Machine',
    '',
    '| | |',
    '|---|---|',
    `| CPU | ${machine.cpuModel} |`,
    `| Cores | ${machine.cores} |`,
    `| Memory | ${machine.memoryGiB} GiB |`,
    `| Node | ${machine.node} |`,
    `| SQLite | ${machine.sqlite} |`,
    `| OS | ${machine.os} |`,
    '',
    '## Run',
    '',
    `- Command: \`${input.command}\`${input.quick ? ' (quick sanity check: small data set, short runs)' : ''}`,
    `- Date: ${input.when.toISOString().replace(/\.\d+Z$/, 'Z')}`,
    `- Data set: ${int(dataset.records)} records (${int(dataset.subjects)} subjects × (1 \`users\` + ${dataset.recordsPerSubject - 1} \`messages\`), all resident in the US, so at one home site); site store ${mib(dataset.dbBytes)}; ${dataset.seededNow ? `seeded in this run in ${dataset.seedSeconds.toFixed(0)} s` : `taken from the cache (seeded earlier in ${dataset.seedSeconds.toFixed(0)} s)`}`,
    `- Load: autocannon, ${settings.connections} connections, pipelining ${settings.pipelining}, ${settings.warmupSeconds} s warm-up then ${settings.durationSeconds} s measured, per server; the same seeded random sequence of record ids for both servers`,
    '- Each server runs in its own process; the load generator runs in the bench process.',
    `- Gated server's environment: ${Object.keys(input.gatedEnv).length === 0 ? 'as the bench\'s' : `${Object.entries(input.gatedEnv).map(([k, v]) => `\`${k}=${v}\``).join(' ')}, as \`enclave serve\` sets it (src/cli/heap-limits.ts)`}`,
    `- Server Node flags: gated ${flagList(input.gatedNodeFlags)}, baseline ${flagList(input.baselineNodeFlags)}; ${input.serverNodeFlags.length === 0 ? 'the gated server\'s are the heap limits `enclave serve` runs with (server.max_old_space_mb, server.max_semi_space_mb of the bench configuration: the defaults)' : `\`${input.serverNodeFlags.join(' ')}\` is a deployment setting under trial, not the product default`}`,
    '',
    '## Results',
    '',
    input.rounds.length > 1
      ? `Each column is that server's best of ${input.rounds.length} measured rounds (the rounds alternate between the servers; every round is listed below).`
      : 'One measured round per server.',
    '',
    '| | (a) Baseline: Fastify + SQLite row, no auth, no decryption | (b) Gated: enclave API, token + decision + decryption |',
    '|---|---:|---:|',
    row('Requests/s', int(baseline.load.requestsPerSecond), int(gated.load.requestsPerSecond)),
    row('Latency p50', ms(baseline.load.latencyP50Ms), ms(gated.load.latencyP50Ms)),
    row('Latency p99', ms(baseline.load.latencyP99Ms), ms(gated.load.latencyP99Ms)),
    row('Latency max', ms(baseline.load.latencyMaxMs), ms(gated.load.latencyMaxMs)),
    row('Successful reads', int(baseline.load.requests), int(gated.load.requests)),
    row('Response size (headers included)', `${int(baseline.load.bytesPerResponse)} B`, `${int(gated.load.bytesPerResponse)} B`),
    row('Non-2xx / errors', `${int(baseline.load.non2xx)} / ${int(baseline.load.errors)}`, `${int(gated.load.non2xx)} / ${int(gated.load.errors)}`),
    row('Server CPU (of one core)', pct(baseline.load.serverCpuPercent), pct(gated.load.serverCpuPercent)),
    row('Server CPU per read', `${int(baseline.load.serverCpuMicrosPerRequest)} µs`, `${int(gated.load.serverCpuMicrosPerRequest)} µs`),
    row('of which main thread / worker threads / V8 and libuv helpers', threadSplit(baseline.load), threadSplit(gated.load)),
    row('Server main thread busy (of one core)', pct(baseline.load.mainThreadPercent), pct(gated.load.mainThreadPercent)),
    row('Load generator CPU (of one core)', pct(baseline.load.generatorCpuPercent), pct(gated.load.generatorCpuPercent)),
    row('Other processes / hypervisor steal (of one core)', `${pct(baseline.load.otherCpuPercent)} / ${pct(baseline.load.stealPercent)}`, `${pct(gated.load.otherCpuPercent)} / ${pct(gated.load.stealPercent)}`),
    row('Server peak RSS (VmHWM) after the rounds', mib(baseline.memory.peakRss), `${mib(gated.memory.peakRss)} (${mib(gatedPeakRss(input))} after the soak, below)`),
    '',
    `**Ratio gated / baseline: ${ratio.toFixed(2)}**${input.rounds.length > 1 ? ` (best over best${baselinePeak(input) > baseline.load.requestsPerSecond ? `, against the baseline's ${int(baselinePeak(input))} reads/s at another connection count (below), its highest` : ''}; the median of the ${input.rounds.length} per-round ratios is ${medianRoundRatio(input).toFixed(2)})` : ''}`,
    '',
    ...(input.rounds.length > 1
      ? [
          '| Round | Baseline reads/s | Gated reads/s | Ratio | Baseline CPU per read | Gated CPU per read | Others / steal during baseline | Others / steal during gated |',
          '|---|---:|---:|---:|---:|---:|---:|---:|',
          ...input.rounds.map(
            (r, i) =>
              `| ${i + 1} | ${int(r.baseline.requestsPerSecond)} | ${int(r.gated.requestsPerSecond)} | ${(r.gated.requestsPerSecond / r.baseline.requestsPerSecond).toFixed(2)} | ` +
              `${int(r.baseline.serverCpuMicrosPerRequest)} µs | ${int(r.gated.serverCpuMicrosPerRequest)} µs | ` +
              `${pct(r.baseline.otherCpuPercent)} / ${pct(r.baseline.stealPercent)} | ${pct(r.gated.otherCpuPercent)} / ${pct(r.gated.stealPercent)} |`,
          ),
          '',
        ]
      : []),
    ...(input.moreConnections.length > 0
      ? [
          '### With more concurrent clients',
          '',
          `One window per server at each other connection count, run last (after the soak and the profile; same ids, same settings otherwise); the targets are assessed on the rounds above (${settings.connections} connections; the ratio against the baseline's highest figure at any count). Each gated read waits for its log entry's group commit (one fsync per batch of the entries queued meanwhile, see [transparency-log.md](transparency-log.md)), so more clients share more of each commit.` +
            (input.peakRssAfterMoreConnections === undefined ? '' : ` The gated server's peak RSS after these windows: ${mib(input.peakRssAfterMoreConnections)} (more requests in flight hold more buffers at once).`),
          '',
          '| Connections | Baseline reads/s | Gated reads/s | Ratio | Baseline CPU per read | Gated CPU per read | Gated latency p50 / p99 |',
          '|---:|---:|---:|---:|---:|---:|---:|',
          ...[{ connections: settings.connections, ...bestOf(input) }, ...input.moreConnections].map(
            (r) =>
              `| ${r.connections} | ${int(r.baseline.requestsPerSecond)} | ${int(r.gated.requestsPerSecond)} | ${(r.gated.requestsPerSecond / r.baseline.requestsPerSecond).toFixed(2)} | ` +
              `${int(r.baseline.serverCpuMicrosPerRequest)} µs | ${int(r.gated.serverCpuMicrosPerRequest)} µs | ${ms(r.gated.latencyP50Ms)} / ${ms(r.gated.latencyP99Ms)} |`,
          ),
          '',
        ]
      : []),
    '## Targets',
    '',
    '| Target | Measured | Met | |',
    '|---|---|---|---|',
    ...verdicts(input).map((v) => `| ${v.target} | ${v.measured} | ${v.met === undefined ? 'n/a' : v.met ? 'yes' : '**no**'} | ${v.comment} |`),
    '',
  ];
  const notes = observations(input);
  if (notes.length > 0) lines.push('Observations:', '', ...notes.map((n) => `- ${n}`), '');
  const { soak } = input;
  const c = soak.composition;
  const soakRows = soak.samples.length > 12 ? soak.samples.filter((_, i) => i % Math.ceil(soak.samples.length / 12) === 0 || i === soak.samples.length - 1) : soak.samples;
  lines.push(
    '## Memory under sustained load',
    '',
    `The gated server's resident set keeps growing well after its first requests, so after the measured rounds the load stayed on in ${soak.samples.length} windows over fresh ids ` +
      `(${int(soak.reads)} more reads in ${soak.seconds.toFixed(0)} s) ${soak.settled ? `until the peak RSS grew by less than ${(soak.options.settleFraction * 100).toFixed(0)} % over ${soak.options.settleWindows * soak.options.windowSeconds} s` : `until the ${soak.options.maxSeconds} s limit, and the peak was still growing`}. ` +
      `Peak RSS (VmHWM, the kernel's own high-water mark): **${mib(gatedPeakRss(input))}** with ${int(input.dataset.records)} records stored.`,
    '',
    '| Reads during the soak | Seconds | RSS | Peak RSS |',
    '|---:|---:|---:|---:|',
    ...soakRows.map((x) => `| ${int(x.reads)} | ${x.seconds.toFixed(0)} | ${mib(x.rss)} | ${mib(x.peakRss)} |`),
    '',
    'Where the resident memory was when the soak ended (from /proc and from the server\'s own V8 heap statistics):',
    '',
    '| Part | Resident |',
    '|---|---:|',
    `| V8 young generation (new space: sized by V8 from the machine's memory unless \`--max-semi-space-size\` says otherwise) | ${mib(c.heap.youngGeneration)} |`,
    `| V8 old generation and other heap spaces (objects in the whole heap, live or not yet collected: ${mib(c.heap.heapUsed)}) | ${mib(c.heap.otherHeapSpaces)} |`,
    `| Other anonymous memory (malloc: SQLite page caches, OpenSSL, Node's C++ side${c.heap.external > 0 ? `, ${mib(c.heap.external)} of it reported to V8 as external` : ''}; freed pages not yet returned) | ${mib(Math.max(0, c.rssAnon - c.heap.youngGeneration - c.heap.otherHeapSpaces))} |`,
    `| File-backed (the node binary and shared libraries) | ${mib(c.rssFile)} |`,
    `| **RSS** | **${mib(c.rss)}** |`,
    '',
  );
  const { breakdown: b } = input;
  const us = (n: number) => `${n.toFixed(1)} µs`;
  lines.push(
    '## What a gated read costs, step by step',
    '',
    `Measured in one process without HTTP, over ${int(b.reads)} random ids of the same data set: each step of \`Vault.getRecord\` and the token check timed on its own (wall time per read, median of ${b.rounds} rounds).`,
    '',
    '| Step | Per read | Share |',
    '|---|---:|---:|',
    ...b.steps.map((s) => `| ${s.step} | ${us(s.micros)} | ${((s.micros / b.gatedSum) * 100).toFixed(0)} % |`),
    `| **Sum of the steps** | **${us(b.gatedSum)}** | |`,
    `| Check: \`TokenService.authenticate\` + \`Vault.getRecord\` called as the server does, from ${b.callers} concurrent callers (CPU of the calling thread; the log's writer thread excluded) | ${us(b.gatedDirect)} | |`,
    `| Baseline: the one prepared-statement row read | ${us(b.baselineRead)} | |`,
    '',
    `Over HTTP the servers used ${int(baseline.load.serverCpuMicrosPerRequest)} µs (baseline) and ${int(gated.load.serverCpuMicrosPerRequest)} µs (gated) of CPU per read in their best rounds, ` +
      `a difference of ${int(gated.load.serverCpuMicrosPerRequest - baseline.load.serverCpuMicrosPerRequest)} µs, while in-process the calls cost ${int(b.gatedDirect - b.baselineRead)} µs more than the baseline's row read (the check) and the steps alone ${int(b.gatedSum - b.baselineRead)} µs. ` +
      'Treat the step figures as a lower bound and read their shares: in a tight loop the code and the pages it touches stay in the CPU caches, whereas in the server every read runs between HTTP parsing and socket writes and pays for cold caches; the profile below shows the shares inside the real server.',
    '',
  );
  if (input.profile) {
    const { profile } = input;
    lines.push(
      "## Where the gated server's time goes",
      '',
      `From a separate ${profile.seconds} s window of load on the gated server with the V8 CPU profiler on (the profiler behind \`node --cpu-prof\`, started after the warm-up; it slows the server down, so this window is not part of the figures above). Self time, idle excluded. Profile: \`${relative(join(import.meta.dirname, '..'), profile.file)}\` (open it in Chrome DevTools, or \`node bench/profile-summary.ts <file>\`).`,
      '',
      '| Layer | Share of busy CPU |',
      '|---|---:|',
      ...profile.categories.map((c) => `| ${c.name} | ${c.selfPercent.toFixed(1)} % |`),
      '',
      'Heaviest functions:',
      '',
      '| Function | Where | Self |',
      '|---|---|---:|',
      ...profile.hotSpots.map((h) => `| \`${h.name}\` | ${h.calledFrom === undefined ? h.where : `native, called from ${h.calledFrom}`} | ${h.selfPercent.toFixed(1)} % |`),
      '',
    );
  }
  return `${lines.join('\n')}\n`;
}

export function writeReport(path: string, input: ReportInput, notePath = path): void {
  // The sections other benchmarks write (log, decision latency, migration, scale-out) are carried over as they are.
  const text = renderReport(input, readNote(notePath)) + keptSections(notePath).map((s) => `\n${s}\n`).join('');
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}
