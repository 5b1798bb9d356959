// (c) Memory under sustained load. A Node server's resident set keeps growing long after its first
// thousands of requests (V8 sizes its young generation for the machine, old-space garbage accumulates
// between full collections, caches fill), so the peak after a short run understates it. The soak keeps
// the gated read load on, window after window over fresh ids, until the peak RSS (VmHWM) stops growing
// or the time limit is reached, and records the curve.
import { runLoad, type LoadSettings } from './load.ts';
import { readMemory } from './proc-stats.ts';
import type { HeapReport } from './servers/bench-server.ts';
import type { ServerProcess } from './server-process.ts';

export interface SoakOptions {
  readonly windowSeconds: number;
  readonly maxSeconds: number;
  /** Settled when the peak grew by less than this fraction over the last `settleWindows` windows. */
  readonly settleFraction: number;
  readonly settleWindows: number;
}

export interface MemoryComposition {
  readonly rss: number;
  readonly rssFile: number;
  readonly rssAnon: number;
  readonly heap: HeapReport;
}

export interface SoakSample {
  /** Gated reads served during the soak so far. */
  readonly reads: number;
  readonly seconds: number;
  readonly rss: number;
  readonly peakRss: number;
}

export interface SoakResult {
  readonly samples: readonly SoakSample[];
  /** Where the memory was when the soak ended. */
  readonly composition: MemoryComposition;
  readonly settled: boolean;
  readonly options: SoakOptions;
  readonly reads: number;
  readonly seconds: number;
}

export async function soak(
  server: ServerProcess,
  paths: readonly string[],
  headers: Record<string, string>,
  settings: LoadSettings,
  options: SoakOptions,
  onWindow: (sample: SoakSample) => void,
): Promise<SoakResult> {
  const samples: SoakSample[] = [];
  let reads = 0;
  let seconds = 0;
  let settled = false;
  while (seconds < options.maxSeconds) {
    const offset = reads % paths.length;
    const window = { warmup: [], measured: [...paths.slice(offset), ...paths.slice(0, offset)] };
    const r = await runLoad(server, window, headers, { ...settings, warmupSeconds: 0, durationSeconds: options.windowSeconds });
    reads += r.requests;
    seconds += r.durationSeconds;
    const { rss, peakRss } = readMemory(server.pid);
    const sample: SoakSample = { reads, seconds, rss, peakRss };
    samples.push(sample);
    onWindow(sample);
    const before = samples.at(-1 - options.settleWindows);
    if (before && sample.peakRss <= before.peakRss * (1 + options.settleFraction)) {
      settled = true;
      break;
    }
  }
  const heap = await server.heap();
  const { rss, rssAnon, rssFile } = readMemory(server.pid);
  return { samples, settled, options, reads, seconds, composition: { rss, rssAnon, rssFile, heap } };
}
