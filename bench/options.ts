// Command-line options of `npm run bench`.
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import type { DatasetSpec } from './dataset.ts';
import type { LoadSettings } from './load.ts';
import type { SoakOptions } from './memory-soak.ts';

export interface BenchOptions {
  readonly quick: boolean;
  readonly fresh: boolean;
  readonly profile: boolean;
  readonly dataset: DatasetSpec;
  readonly load: LoadSettings;
  /** Measured rounds per server, alternating baseline and gated; the report takes each server's best. */
  readonly rounds: number;
  /** After the rounds: one window per server at each of these connection counts (group commit grows with concurrency). */
  readonly moreConnections: readonly number[];
  readonly soak: SoakOptions;
  /** Node flags for both server processes (none by default: the servers run as the product does). */
  readonly serverNodeFlags: readonly string[];
  /** Seconds of the separate, profiled gated run (not part of the figures). */
  readonly profileSeconds: number;
  /** Where the report goes; --quick and trial flags never overwrite the figures of record. */
  readonly reportPath: string;
  readonly command: string;
}

/** Concurrent clients of the measured rounds. */
export const ASSESSED_CONNECTIONS = 64;

export const USAGE = `usage: npm run bench [-- --quick] [-- --fresh] [-- --no-profile] [-- --server-node-flags=<flags>]

  --quick       50,000 records, one round of 3 s runs: a sanity check; the report goes to
                bench/.work/benchmarks-quick.md instead of docs/benchmarks.md
  --fresh       re-seed the data set instead of using the cached one under bench/.work/
  --no-profile  skip the separate profiled run of the gated server
  --server-node-flags=<flags>
                start both server processes with these Node flags, space-separated (for example
                --server-node-flags=--max-semi-space-size=8), to try a deployment setting; the report
                names them, and it goes to bench/.work/benchmarks-trial.md. Default: none, as the
                product runs
  --help        this text
`;

export function parseOptions(argv: readonly string[], paths: { docs: string; quick: string; trial: string }): BenchOptions | undefined {
  const values = parseBenchArgs(
    USAGE,
    {
      quick: { type: 'boolean', default: false },
      fresh: { type: 'boolean', default: false },
      'no-profile': { type: 'boolean', default: false },
      'server-node-flags': { type: 'string', default: '' },
      help: { type: 'boolean', default: false },
    },
    argv,
  );
  if (values.help) return undefined;
  const quick = values.quick;
  const serverNodeFlags = values['server-node-flags'].split(/\s+/).filter((f) => f !== '');
  const flags = argv.filter((a) => a !== '--fresh').map((a) => (/[\s"'$]/.test(a) ? JSON.stringify(a) : a));
  return {
    quick,
    fresh: values.fresh,
    profile: !values['no-profile'],
    dataset: quick ? { subjects: 5_000, recordsPerSubject: 10 } : { subjects: 100_000, recordsPerSubject: 10 },
    // The targets are throughput targets, assessed where the gated server's throughput peaks. Every gated
    // read waits for its entry's durable commit, so with few clients it is bound by that wait, not by the
    // server (docs/benchmarks.md, "How to read this"): the rounds run at 64 connections, and the windows
    // at 10 and 32 show the rest of the curve.
    load: quick
      ? { connections: ASSESSED_CONNECTIONS, pipelining: 1, durationSeconds: 3, warmupSeconds: 1 }
      : { connections: ASSESSED_CONNECTIONS, pipelining: 1, durationSeconds: 10, warmupSeconds: 3 },
    rounds: quick ? 1 : 5,
    moreConnections: quick ? [10] : [10, 32],
    soak: quick
      ? { windowSeconds: 3, maxSeconds: 6, settleFraction: 0.02, settleWindows: 1 }
      : { windowSeconds: 10, maxSeconds: 300, settleFraction: 0.02, settleWindows: 6 },
    serverNodeFlags,
    profileSeconds: quick ? 2 : 5,
    // docs/benchmarks.md holds only full runs of the servers as the product runs them.
    reportPath: quick ? paths.quick : serverNodeFlags.length > 0 ? paths.trial : paths.docs,
    command: ['npm run bench', ...(flags.length > 0 ? ['--', ...flags] : [])].join(' '),
  };
}

/** The `--quick` / `--help` options of the smaller benchmarks (bench:log, bench:scale): prints `usage` and exits on --help. */
/**
 * parseArgs for a bench script's own options: an unknown or malformed flag ends the script with a one-line
 * message and its usage on stderr (exit code 2), not a stack trace.
 */
export function parseBenchArgs<T extends ParseArgsOptionsConfig>(usage: string, options: T, argv: readonly string[] = process.argv.slice(2)): ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true }>>['values'] {
  try {
    return parseArgs({ args: [...argv], options, strict: true }).values;
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n${usage}`);
    process.exit(2);
  }
}

export function parseQuick(usage: string, argv: readonly string[] = process.argv.slice(2)): boolean {
  const values = parseBenchArgs(usage, { quick: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } }, argv);
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  return values.quick;
}
