// Another process's memory and CPU time, read from /proc (Linux). VmHWM is the kernel's own record of
// the process's peak resident set size over its whole life, so no spike between samples can be missed.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

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

/** User plus system CPU seconds of a /proc stat line (a process's or a thread's). */
function cpuSecondsOf(stat: string): number {
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / cpuTicksPerSecond();
}

/** User plus system CPU seconds the process has used so far. */
export function readCpuSeconds(pid: number): number {
  return cpuSecondsOf(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** CPU seconds of a process's threads so far: its main thread, its worker threads (Node names them WorkerThread), and the rest (V8's and libuv's helpers). */
export interface ThreadCpu {
  readonly main: number;
  readonly workers: number;
  readonly other: number;
}

/** Threads that ended between two readings are missing from the second: their time is lost, not misattributed. */
export function readThreadCpu(pid: number): ThreadCpu {
  let main = 0;
  let workers = 0;
  let other = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const seconds = cpuSecondsOf(stat);
    if (tid === String(pid)) main += seconds;
    else if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === 'WorkerThread') workers += seconds;
    else other += seconds;
  }
  return { main, workers, other };
}
