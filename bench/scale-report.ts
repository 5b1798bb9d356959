// The scale-out section of docs/benchmarks.md, written by `npm run bench:scale` between its own markers
// (sections.ts); `npm run bench` regenerates the rest of the page and carries it over.
import type { DatasetSpec } from './dataset.ts';
import type { LoadSettings } from './load.ts';
import type { Machine } from './machine.ts';
import type { AppenderResult } from './scale-appender.ts';

export interface ReadRun {
  readonly label: string;
  readonly instances: number;
  readonly readsPerSecond: number;
  /** The slowest instance's. */
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly non2xx: number;
  /** All server processes' CPU over all successful reads. */
  readonly serverCpuMicrosPerRead: number;
  /** All server processes together, % of one core. */
  readonly serverCpuPercent: number;
  readonly generatorCpuPercent: number;
  /** Everything else on the machine, PostgreSQL included, % of one core. */
  readonly otherCpuPercent: number;
  readonly seconds: number;
}

export interface AppendRun {
  readonly label: string;
  readonly instances: number;
  readonly appendsPerSecond: number;
  readonly perInstance: readonly AppenderResult[];
  readonly seconds: number;
}

export interface ScaleReport {
  readonly command: string;
  readonly when: Date;
  readonly quick: boolean;
  readonly machine: Machine;
  readonly postgres: string;
  readonly spec: DatasetSpec;
  readonly load: LoadSettings;
  readonly rounds: number;
  readonly appendCallers: number;
  readonly poolSize: number;
  readonly reads: readonly ReadRun[];
  readonly appends: readonly AppendRun[];
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (n: number) => `${n.toFixed(0)} %`;
const ms = (n: number) => (n < 10 ? n.toFixed(1) : int(n));

function row(label: string, cells: readonly string[]): string {
  return `| ${label} | ${cells.join(' | ')} |`;
}

export function renderScaleSection(r: ScaleReport): string {
  const records = r.spec.subjects * r.spec.recordsPerSubject;
  const readHead = ['| | ' + r.reads.map((x) => x.label).join(' | ') + ' |', `|---|${r.reads.map(() => '---:').join('|')}|`];
  const appendHead = ['| | ' + r.appends.map((x) => x.label).join(' | ') + ' |', `|---|${r.appends.map(() => '---:').join('|')}|`];
  const commits = (a: AppendRun) => a.perInstance.reduce((n, p) => n + p.commits, 0);
  const appended = (a: AppendRun) => a.perInstance.reduce((n, p) => n + p.appends, 0);
  const lines = [
    '## Scale-out: PostgreSQL, one and two instances',
    '',
    ...(r.quick
      ? ['> **Not yet a full run.** These are the figures of `npm run bench:scale -- --quick` on the shared development machine; `npm run bench:scale` replaces this section.', '']
      : []),
    `\`${r.command}\` (bench/scale.ts), ${r.when.toISOString().replace(/\.\d+Z$/, 'Z')}, on the machine above (${r.machine.cores} cores, Node ${r.machine.node}, SQLite ${r.machine.sqlite}), PostgreSQL ${r.postgres} on the same machine.${r.quick ? ' **Quick run: short and small, a sanity check only.**' : ''}`,
    '',
    `**Gated reads.** The same enclave (${int(records)} records, ${int(r.spec.subjects)} subjects) seeded twice: every store embedded (SQLite files), and every store in PostgreSQL (control, sites and the transparency log, one schema each, ${r.poolSize} connections per store and instance). Each instance is a server process as \`npm run bench\` runs it (\`buildServer\`, unsealed, the integrator on: the instances elect one sequencer). autocannon in the bench process reads random records with a service token, ${r.load.connections} connections in all, spread evenly over the instances, ${r.load.warmupSeconds} s warm-up then ${r.load.durationSeconds} s measured; best of ${r.rounds} round${r.rounds === 1 ? '' : 's'}. Every read appends its \`access.decision\` entry to the log and waits for it to be durable before it answers, so reads/s is also the log's append rate on that path.`,
    '',
    ...readHead,
    row('Gated reads/s', r.reads.map((x) => int(x.readsPerSecond))),
    row('Latency p50 / p99 (slowest instance)', r.reads.map((x) => `${ms(x.latencyP50Ms)} / ${ms(x.latencyP99Ms)} ms`)),
    row('Non-2xx / errors', r.reads.map((x) => String(x.non2xx))),
    row('Server CPU per read (all instances)', r.reads.map((x) => `${int(x.serverCpuMicrosPerRead)} µs`)),
    row('Server processes CPU (of one core)', r.reads.map((x) => pct(x.serverCpuPercent))),
    row('Load generator CPU', r.reads.map((x) => pct(x.generatorCpuPercent))),
    row('Everything else (PostgreSQL, and anyone else on the machine)', r.reads.map((x) => pct(x.otherCpuPercent))),
    '',
    `**Durable log appends.** One \`LogService\` per instance, each in a process of its own, appending \`access.decision\` entries like the vault's into one log (${int(r.appendCallers)} concurrent callers in all, split over the instances) for ${r.appends[0]?.seconds.toFixed(0) ?? '?'} s with group commit; the first instance also runs the integrator and signs a checkpoint every second (on PostgreSQL it holds the sequencer lease). An append counts once its batch's commit returned (SQLite \`synchronous=FULL\`; PostgreSQL \`synchronous_commit=on\`).`,
    '',
    ...appendHead,
    row('Durable appends/s', r.appends.map((x) => int(x.appendsPerSecond))),
    row('Per instance', r.appends.map((x) => x.perInstance.map((p) => int(p.appends / p.seconds)).join(' + '))),
    row('Commits (entries per commit)', r.appends.map((x) => `${int(commits(x))} (${int(appended(x) / Math.max(1, commits(x)))})`)),
    row('Append acknowledged, p50 / p99 (slowest instance)', r.appends.map((x) => `${ms(Math.max(...x.perInstance.map((p) => p.ackMs.p50)))} / ${ms(Math.max(...x.perInstance.map((p) => p.ackMs.p99)))} ms`)),
    '',
    `What this machine can and cannot show: it has ${r.machine.cores} cores, shared by the load generator, PostgreSQL and every process under test, so these figures are what cooperating costs on one machine, not the gain of more machines. Reads: a second instance here only splits the same cores, and every read pays PostgreSQL round trips (the record with its subject, the log append; a token once a second) where the embedded store makes in-process calls. Appends: the batches of every instance are numbered one after another on the log's counter row (one commit at a time, however many instances), which group commit amortizes over each batch; a second instance adds appends only while that commit is not the limit.`,
  ];
  return lines.join('\n');
}
