// Whether a process of this host still runs: what tells a stale lock or claim (its holder died) from a
// live one. Signal 0 checks without signalling; EPERM means it runs under another user.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** A claim from another machine is taken over after this long. */
export const FOREIGN_LEASE_MS = 10 * 60_000;

/**
 * When a process started (clock ticks since boot, proc(5) /proc/<pid>/stat field 22), where the system
 * tells: with the pid it names one process, not whichever reuses the pid later (a container's PID 1 on
 * every restart). Undefined where there is no /proc or no such process.
 */
export function processStart(pid: number): string | undefined {
  return readStart(pid) ?? undefined;
}

/** The start time, null where no such process is listed (ENOENT), or undefined where /proc could not tell (hidepid, EMFILE). */
function readStart(pid: number): string | null | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2, the command name, is in parentheses and may itself hold spaces and parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : undefined;
  }
}

let selfStart: string | undefined | null = null;

function selfStartOf(): string | undefined {
  if (selfStart === null) selfStart = processStart(process.pid);
  return selfStart;
}

/** `host:pid:random[:start]`: names the holder of a claim (a migration batch, a re-home's mark). */
export function newHolderId(): string {
  const start = selfStartOf();
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}${start === undefined ? '' : `:${start}`}`;
}

/**
 * Whether the holder of a claim taken at `since` is gone: a process of this host that no longer runs (at
 * once; one that named its start time is gone once no process with that pid and start time runs, even
 * when the pid is this process's own), or one of another host (or of no known form) after
 * FOREIGN_LEASE_MS. This process is never gone.
 */
export function holderGone(holder: string, now: number, since: number): boolean {
  const [host, pidText, , start] = holder.split(':');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid)) return now - since > FOREIGN_LEASE_MS;
  // With its start time, a holder is gone unless that very process runs, even under this process's pid.
  if (pid === process.pid && (start === undefined || start === selfStartOf())) return false;
  if (start !== undefined) {
    // Gone when no process has that pid, or one with another start time; where /proc cannot tell, as before.
    const current = readStart(pid);
    if (current !== undefined) return current !== start;
  }
  return pid !== process.pid && !processAlive(pid);
}
