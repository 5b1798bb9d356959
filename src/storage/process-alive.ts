// Whether a process of this host still runs: what tells a stale lock or claim (its holder died) from a
// live one. Signal 0 checks without signalling; EPERM means it runs under another user.
import { randomBytes } from 'node:crypto';
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

/** `host:pid:random`: names the holder of a claim (a migration batch, a re-home's mark). */
export function newHolderId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/**
 * Whether the holder of a claim taken at `since` is gone: a process of this host that no longer runs (at
 * once), or one of another host (or of no known form) after FOREIGN_LEASE_MS. This process is never gone.
 */
export function holderGone(holder: string, now: number, since: number): boolean {
  const [host, pidText] = holder.split(':');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid)) return now - since > FOREIGN_LEASE_MS;
  return pid !== process.pid && !processAlive(pid);
}
