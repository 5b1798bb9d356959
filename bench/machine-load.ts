// The rest of the machine while we measure. Other processes (or the hypervisor stealing time) on a
// 2-core machine change the figures, so the bench waits briefly for a quiet machine and reports how
// much CPU others used during each measured window.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuTicksPerSecond } from './proc-stats.ts';

export interface SystemCpu {
  /** CPU seconds all cores spent busy (user, nice, system, irq, softirq). */
  readonly busy: number;
  /** CPU seconds the hypervisor gave to others while we wanted to run. */
  readonly steal: number;
}

export function readSystemCpu(): SystemCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  const hz = cpuTicksPerSecond();
  return { busy: ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0)) / hz, steal: (steal ?? 0) / hz };
}

/** Busy CPU of the whole machine over `ms`, in % of one core. */
export async function machineBusyPercent(ms = 1000): Promise<number> {
  const a = readSystemCpu();
  await sleep(ms);
  const b = readSystemCpu();
  return ((b.busy - a.busy) / (ms / 1000)) * 100;
}

/**
 * Waits until the machine is quiet (busy below `thresholdPercent` of one core over a second), for at
 * most `maxSeconds`. Returns the last reading and whether it got quiet.
 */
export async function waitForQuiet(thresholdPercent: number, maxSeconds: number, onWait: (busy: number) => void): Promise<{ busyPercent: number; quiet: boolean }> {
  const deadline = performance.now() + maxSeconds * 1000;
  for (;;) {
    const busyPercent = await machineBusyPercent();
    if (busyPercent < thresholdPercent) return { busyPercent, quiet: true };
    if (performance.now() >= deadline) return { busyPercent, quiet: false };
    onWait(busyPercent);
  }
}
