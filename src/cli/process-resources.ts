// What a long command used, reported with its result: an operator sizing the host for the next run reads
// it there (`enclave migrate run` prints it; the migration benchmark reads it from --json).

export interface ProcessResources {
  /** Wall time of the metered work (ms). */
  readonly ms: number;
  /** CPU time of every thread of this process, user and system, during the metered work (ms). */
  readonly cpuMs: number;
  /** The largest resident set this process ever had (getrusage's ru_maxrss; VmHWM on Linux), in bytes. */
  readonly peakRssBytes: number;
}

/** Starts metering; `read` gives what was used since. */
export function meterResources(): { read(): ProcessResources } {
  const started = performance.now();
  const cpu = process.cpuUsage();
  return {
    read() {
      const used = process.cpuUsage(cpu);
      // maxRSS is in kibibytes (getrusage(2)).
      return { ms: Math.round(performance.now() - started), cpuMs: Math.round((used.user + used.system) / 1000), peakRssBytes: process.resourceUsage().maxRSS * 1024 };
    },
  };
}
