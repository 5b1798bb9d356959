// The load generator: autocannon in this (the parent) process against a server in its own process, so
// the two cores split generator and server. Same settings for every server; the ids come from a
// PathCursor (one shared walk over a seeded list) through setupRequest, so they vary per request.
import autocannon from 'autocannon';
import { readSystemCpu } from './machine-load.ts';
import { readCpuSeconds, readThreadCpu } from './proc-stats.ts';
import { PathCursor } from './request-paths.ts';
import type { ServerProcess } from './server-process.ts';

export interface LoadSettings {
  readonly connections: number;
  readonly pipelining: number;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
}

export interface LoadResult {
  /** 2xx responses in the measured window. */
  readonly requests: number;
  readonly durationSeconds: number;
  readonly requestsPerSecond: number;
  readonly latencyAvgMs: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly latencyMaxMs: number;
  readonly non2xx: number;
  readonly errors: number;
  /** Average response size on the wire, headers included. */
  readonly bytesPerResponse: number;
  /** CPU the server process used during the window, in % of one core. */
  readonly serverCpuPercent: number;
  /** Server CPU time per successful read, microseconds: what one read costs, whatever the throughput. */
  readonly serverCpuMicrosPerRequest: number;
  /** The same split by thread: the main thread (HTTP and the request's work), worker threads (the gated server's log writer), the rest (V8's and libuv's helpers). */
  readonly serverThreadMicrosPerRequest: { readonly main: number; readonly workers: number; readonly other: number };
  /** How busy the server's main thread was during the window, in % of one core. */
  readonly mainThreadPercent: number;
  /** CPU the load generator (this process) used during the window, in % of one core. */
  readonly generatorCpuPercent: number;
  /** CPU every other process on the machine used during the window, in % of one core. */
  readonly otherCpuPercent: number;
  /** CPU time the hypervisor took away during the window, in % of one core. */
  readonly stealPercent: number;
}

function fire(url: string, cursor: PathCursor, headers: Record<string, string>, settings: LoadSettings, seconds: number): Promise<autocannon.Result> {
  return autocannon({
    url,
    connections: settings.connections,
    pipelining: settings.pipelining,
    duration: seconds,
    headers,
    requests: [
      {
        method: 'GET',
        setupRequest: (request) => {
          request.path = cursor.next();
          return request;
        },
      },
    ],
  });
}

export async function runLoad(
  server: ServerProcess,
  paths: { readonly warmup: readonly string[]; readonly measured: readonly string[] },
  headers: Record<string, string>,
  settings: LoadSettings,
  /** Runs right before the measured window (after the warm-up), e.g. to start a profiler. */
  beforeMeasure?: () => Promise<void>,
): Promise<LoadResult> {
  if (settings.warmupSeconds > 0) await fire(server.url, new PathCursor(paths.warmup), headers, settings, settings.warmupSeconds);
  await beforeMeasure?.();
  const cursor = new PathCursor(paths.measured);
  const generator0 = process.cpuUsage();
  const server0 = readCpuSeconds(server.pid);
  const threads0 = readThreadCpu(server.pid);
  const system0 = readSystemCpu();
  const t0 = performance.now();
  const r = await fire(server.url, cursor, headers, settings, settings.durationSeconds);
  const elapsed = (performance.now() - t0) / 1000;
  const generator = process.cpuUsage(generator0);
  const serverCpu = readCpuSeconds(server.pid) - server0;
  const threads1 = readThreadCpu(server.pid);
  const system1 = readSystemCpu();
  const generatorCpu = (generator.user + generator.system) / 1e6;
  const percent = (seconds: number) => (seconds / elapsed) * 100;
  const ok = r['2xx'];
  return {
    requests: ok,
    durationSeconds: r.duration,
    requestsPerSecond: ok / r.duration,
    latencyAvgMs: r.latency.average,
    latencyP50Ms: r.latency.p50,
    latencyP99Ms: r.latency.p99,
    latencyMaxMs: r.latency.max,
    non2xx: r.non2xx,
    errors: r.errors,
    bytesPerResponse: r.requests.total > 0 ? r.throughput.total / r.requests.total : 0,
    serverCpuPercent: percent(serverCpu),
    serverCpuMicrosPerRequest: ok > 0 ? (serverCpu / ok) * 1e6 : Number.NaN,
    serverThreadMicrosPerRequest: {
      main: ok > 0 ? ((threads1.main - threads0.main) / ok) * 1e6 : Number.NaN,
      workers: ok > 0 ? ((threads1.workers - threads0.workers) / ok) * 1e6 : Number.NaN,
      other: ok > 0 ? ((threads1.other - threads0.other) / ok) * 1e6 : Number.NaN,
    },
    mainThreadPercent: percent(threads1.main - threads0.main),
    generatorCpuPercent: percent(generatorCpu),
    otherCpuPercent: Math.max(0, percent(system1.busy - system0.busy - serverCpu - generatorCpu)),
    stealPercent: percent(system1.steal - system0.steal),
  };
}
