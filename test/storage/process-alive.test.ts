// Claims name their holder's host, pid and start time, so a claim of a killed process is released even
// when its pid comes back (a container's PID 1 on every restart) and even when it comes back as this one.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { describe, it } from 'node:test';
import { FOREIGN_LEASE_MS, holderGone, newHolderId, processStart } from '../../src/storage/process-alive.ts';

const now = Date.now();

void describe('claim holders', () => {
  void it('this process is alive under its own id; under its pid with another start time it is a process gone before it', () => {
    const mine = newHolderId();
    assert.equal(holderGone(mine, now, now), false);
    const start = processStart(process.pid);
    assert.ok(start !== undefined && /^\d+$/.test(start), 'Linux tells a process its start time');
    assert.equal(mine.split(':')[3], start);
    // What a killed process with this pid called itself (it started earlier).
    const earlier = `${hostname()}:${process.pid}:0badc0de:${String(Number(start) - 1)}`;
    assert.equal(holderGone(earlier, now, now), true);
  });

  void it('a process that has exited is gone at once; another host only after the foreign lease', () => {
    const child = spawnSync(process.execPath, ['-e', "process.stdout.write(String(process.pid) + ':' + require('fs').readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[19])"], { encoding: 'utf8' });
    const [pid, start] = child.stdout.split(':');
    assert.equal(holderGone(`${hostname()}:${pid ?? ''}:00000000:${start ?? ''}`, now, now), true);
    assert.equal(holderGone(`elsewhere:${String(process.pid)}:00000000:1`, now, now), false);
    assert.equal(holderGone(`elsewhere:${String(process.pid)}:00000000:1`, now + FOREIGN_LEASE_MS + 1, now), true);
    // Ids written before start times were named keep their meaning: this pid is alive.
    assert.equal(holderGone(`${hostname()}:${String(process.pid)}:0badc0de`, now, now), false);
  });
});
