// Another process's memory and CPU time, read from /proc (Linux). VmHWM is the kernel's own record of
// the process's peak resident set size over its whole life, so no spike between samples can be missed.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface MemoryStatus {
  /** Current resident set size, bytes. */
  readonly rss: number;
  /** Peak resident set size since the process started (VmHWM), bytes. */
  readonly peakRss: number;
  /** Resident anonymous memory (heaps: V8's and malloc's), bytes. */
  readonly rssAnon: number;
  /** Resident file-backed memory (the node binary, shared libraries), bytes. */
  readonly rssFile: number;
}

function kib(status: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  if (!m?.[1]) throw new Error(`/proc status has no ${field}`);
  return Number(m[1]) * 1024;
}

export function readMemory(pid: number): MemoryStatus {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { rss: kib(status, 'VmRSS'), peakRss: kib(status, 'VmHWM'), rssAnon: kib(status, 'RssAnon'), rssFile: kib(status, 'RssFile') };
}

let clockTicks: number | undefined;

export function cpuTicksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User plus system CPU seconds the process has used so far. */
export function readCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / cpuTicksPerSecond();
}
