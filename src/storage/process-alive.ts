// Whether a process of this host still runs: what tells a stale lock or claim (its holder died) from a
// live one. Signal 0 checks without signalling; EPERM means it runs under another user.
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
