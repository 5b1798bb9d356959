// `npm run bench`: gated reads through the enclave API against a minimal Fastify + SQLite baseline, in
// one run with one load generator, then docs/benchmarks.md. See USAGE in options.ts for the flags.
//
// Both servers run in their own processes, started once over the same store; autocannon runs here. The
// machine is shared, so each measured window waits for the machine to be quiet, rounds alternate
// between the two servers, and the report takes each server's best round (interference only ever
// slows a run down) while listing every round.
import { execFileSync, fork } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Breakdown } from './breakdown.ts';
import { BENCH_PURPOSE, datasetDir, readManifest, recordCount, restoreSeededLog, WORK_DIR, type DatasetSpec, type Manifest } from './dataset.ts';
import { runLoad, type LoadResult, type LoadSettings } from './load.ts';
import { waitForQuiet } from './machine-load.ts';
import { describeMachine } from './machine.ts';
import { soak } from './memory-soak.ts';
import { parseOptions, USAGE } from './options.ts';
import { warmPageCache } from './page-cache.ts';
import { probe } from './probe.ts';
import { readMemory } from './proc-stats.ts';
import { categorize } from './profile-categories.ts';
import { summarizeProfile } from './profile-summary.ts';
import { ratioOf, verdicts, writeReport, type ConcurrencyRow, type ProfileFigures, type ReportInput, type Round, type ServerFigures } from './report.ts';
import { PATH_SEED, requestPaths } from './request-paths.ts';
import { startServerProcess, type ServerProcess } from './server-process.ts';

const DOCS = join(import.meta.dirname, '..', 'docs', 'benchmarks.md');
const QUICK_REPORT = join(WORK_DIR, 'benchmarks-quick.md');
const TRIAL_REPORT = join(WORK_DIR, 'benchmarks-trial.md');
/** Before each measured window, wait (up to QUIET_WAIT_SECONDS) until others use less than this much of a core. */
const QUIET_PERCENT = 15;
const QUIET_WAIT_SECONDS = 120;
/** Profiles kept under bench/.work/profiles (the newest). */
const PROFILES_KEPT = 5;

type Paths = { readonly warmup: readonly string[]; readonly measured: readonly string[] };

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

const perSecond = (r: LoadResult) => Math.round(r.requestsPerSecond).toLocaleString('en-US');

async function seed(dir: string, spec: DatasetSpec): Promise<void> {
  const child = fork(join(import.meta.dirname, 'seed.ts'), [dir, String(spec.subjects), String(spec.recordsPerSubject)], { execArgv: [], stdio: 'inherit' });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`seeding failed (exit code ${String(code)})`);
}

async function dataset(spec: DatasetSpec, fresh: boolean): Promise<{ manifest: Manifest; seededNow: boolean }> {
  const dir = datasetDir(spec);
  const cached = fresh ? undefined : readManifest(dir);
  if (cached) {
    log(`data set: ${cached.records.toLocaleString('en-US')} records, cached in ${dir} (--fresh re-seeds)`);
    return { manifest: cached, seededNow: false };
  }
  log(`data set: seeding ${recordCount(spec).toLocaleString('en-US')} records into ${dir}`);
  await seed(dir, spec);
  const manifest = readManifest(dir);
  if (!manifest) throw new Error(`seeding finished without writing ${dir}/manifest.json`);
  return { manifest, seededNow: true };
}

async function quiet(label: string): Promise<void> {
  const calm = await waitForQuiet(QUIET_PERCENT, QUIET_WAIT_SECONDS, (busy) => log(`${label}: waiting for the machine to go quiet (others use ${busy.toFixed(0)} % of a core)`));
  if (!calm.quiet) log(`${label}: the machine did not go quiet within ${QUIET_WAIT_SECONDS} s; measuring anyway (see "other processes" in the report)`);
}

async function measureOnce(server: ServerProcess, label: string, paths: Paths, headers: Record<string, string>, settings: LoadSettings): Promise<LoadResult> {
  await quiet(label);
  const load = await runLoad(server, paths, headers, settings);
  log(`${label}: ${perSecond(load)} req/s, p50 ${load.latencyP50Ms} ms, p99 ${load.latencyP99Ms} ms, ${load.serverCpuMicrosPerRequest.toFixed(0)} µs server CPU per read, others ${load.otherCpuPercent.toFixed(0)} % of a core`);
  return load;
}

async function profileGated(server: ServerProcess, paths: Paths, headers: Record<string, string>, settings: LoadSettings, seconds: number): Promise<ProfileFigures> {
  const dir = join(WORK_DIR, 'profiles');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `gated-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
  await quiet('gated (profiled)');
  log(`gated (profiled, not part of the figures): ${seconds} s`);
  await runLoad(server, paths, headers, { ...settings, warmupSeconds: 1, durationSeconds: seconds }, () => server.startProfile());
  await server.stopProfile(file);
  const old = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort().reverse().slice(PROFILES_KEPT);
  for (const f of old) rmSync(join(dir, f));
  const all = summarizeProfile(file, Number.POSITIVE_INFINITY);
  return { seconds, categories: categorize(all.hotSpots), hotSpots: all.hotSpots.slice(0, 15), file };
}

function breakdown(manifest: Manifest): Breakdown {
  log('breakdown: timing the steps of a gated read in-process');
  const out = execFileSync(
    process.execPath,
    [join(import.meta.dirname, 'breakdown.ts'), manifest.configPath, manifest.siteDbPath, manifest.serviceToken, String(manifest.subjects), String(manifest.recordsPerSubject)],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return JSON.parse(out) as Breakdown;
}

function best(results: readonly LoadResult[]): LoadResult {
  return results.reduce((a, b) => (b.requestsPerSecond > a.requestsPerSecond ? b : a));
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2), { docs: DOCS, quick: QUICK_REPORT, trial: TRIAL_REPORT });
  if (!options) {
    process.stdout.write(USAGE);
    return;
  }
  const machine = describeMachine();
  log(`machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, SQLite ${machine.sqlite}`);
  const { manifest, seededNow } = await dataset(options.dataset, options.fresh);
  if (restoreSeededLog(manifest)) log('log: restored as seeding left it (each run starts from the same log)');
  else log('log: this data set keeps every earlier run\'s entries (it predates the seeded copy; --fresh re-seeds)');
  const paths: Paths = { warmup: requestPaths(manifest, 100_000, PATH_SEED + 1), measured: requestPaths(manifest, 400_000, PATH_SEED) };
  const warmed = warmPageCache([manifest.siteDbPath, `${manifest.siteDbPath}-wal`, join(dirname(manifest.siteDbPath), '..', 'control.db')]);
  log(`page cache: read ${(warmed / 2 ** 20).toFixed(0)} MiB of store files`);
  // Both servers get the same header bytes; the baseline simply ignores it.
  const headers = { authorization: `Bearer ${manifest.serviceToken}`, 'enclave-purpose': BENCH_PURPOSE };

  if (options.serverNodeFlags.length > 0) log(`servers run with Node flags: ${options.serverNodeFlags.join(' ')}`);
  const baseline = await startServerProcess('baseline', manifest.siteDbPath, options.serverNodeFlags);
  const gated = await startServerProcess('gated', manifest.configPath, options.serverNodeFlags);
  let report: ReportInput;
  try {
    await probe(baseline, manifest, headers);
    await probe(gated, manifest, headers);
    const rounds: Round[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      const tag = options.rounds > 1 ? ` round ${round}/${options.rounds}` : '';
      const b = await measureOnce(baseline, `baseline${tag}`, paths, headers, options.load);
      const g = await measureOnce(gated, `gated${tag}`, paths, headers, options.load);
      rounds.push({ baseline: b, gated: g });
    }
    const memory = { baseline: readMemory(baseline.pid), gated: readMemory(gated.pid) };
    // Before the profiled run: the inspector's own allocations are not the server's.
    await quiet('memory soak');
    log(`memory soak: gated load in ${options.soak.windowSeconds} s windows until the peak RSS settles (at most ${options.soak.maxSeconds} s)`);
    const soaked = await soak(gated, paths.measured, headers, options.load, options.soak, (s) =>
      log(`memory soak: ${s.reads.toLocaleString('en-US')} reads, RSS ${(s.rss / 2 ** 20).toFixed(0)} MiB, peak ${(s.peakRss / 2 ** 20).toFixed(0)} MiB`),
    );
    const profile = options.profile ? await profileGated(gated, paths, headers, options.load, options.profileSeconds) : undefined;
    // Last: more concurrent requests hold more buffers at once, and the memory figures above are the rounds' load.
    const moreConnections: ConcurrencyRow[] = [];
    for (const connections of options.moreConnections) {
      const settings = { ...options.load, connections };
      const b = await measureOnce(baseline, `baseline, ${connections} connections`, paths, headers, settings);
      const g = await measureOnce(gated, `gated, ${connections} connections`, paths, headers, settings);
      moreConnections.push({ connections, baseline: b, gated: g });
    }
    const afterMoreConnections = moreConnections.length > 0 ? readMemory(gated.pid).peakRss : undefined;
    await quiet('breakdown');
    const steps = breakdown(manifest);
    const baselineFigures: ServerFigures = { load: best(rounds.map((r) => r.baseline)), memory: memory.baseline };
    const gatedFigures: ServerFigures = { load: best(rounds.map((r) => r.gated)), memory: memory.gated };
    report = {
      command: options.command,
      quick: options.quick,
      when: new Date(),
      machine,
      settings: options.load,
      dataset: {
        records: manifest.records,
        subjects: manifest.subjects,
        recordsPerSubject: manifest.recordsPerSubject,
        dbBytes: statSync(manifest.siteDbPath).size,
        seededNow,
        seedSeconds: manifest.seedSeconds,
      },
      baseline: baselineFigures,
      gated: gatedFigures,
      rounds,
      moreConnections,
      ...(afterMoreConnections === undefined ? {} : { peakRssAfterMoreConnections: afterMoreConnections }),
      soak: soaked,
      serverNodeFlags: options.serverNodeFlags,
      gatedNodeFlags: gated.nodeFlags,
      baselineNodeFlags: baseline.nodeFlags,
      gatedEnv: gated.addedEnv,
      breakdown: steps,
      ...(profile ? { profile } : {}),
    };
  } finally {
    await Promise.all([baseline.stop(), gated.stop()]);
  }
  writeReport(options.reportPath, report, DOCS);
  log(`\nratio gated/baseline (best rounds): ${ratioOf(report).toFixed(2)}`);
  for (const v of verdicts(report)) log(`${v.met === undefined ? 'n/a ' : v.met ? 'met ' : 'MISS'}  ${v.target}: ${v.measured} (${v.comment})`);
  if (report.profile) log(`profile: ${report.profile.file}`);
  log(`report: ${options.reportPath}`);
}

await main();
