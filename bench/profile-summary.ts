// Summarises a V8 .cpuprofile: self time per function, heaviest first, so the report can say what
// dominates a request without opening DevTools. A native function (a C++ binding such as
// StatementSync.get or a socket write) is named together with the JavaScript that called it.
// Usable on its own:  node bench/profile-summary.ts <file.cpuprofile> [top]
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface HotSpot {
  readonly name: string;
  /** Source location, or "(native)". */
  readonly where: string;
  /** For native functions: the nearest JavaScript caller's location. */
  readonly calledFrom: string | undefined;
  /** Share of busy samples (idle and the profiler's own calls excluded). */
  readonly selfPercent: number;
}

const REPO = join(import.meta.dirname, '..');
const VM_STATES = new Set(['(root)', '(program)', '(idle)', '(garbage collector)']);

function location(frame: CallFrame): string {
  if (frame.url === '') return '(native)';
  const path = frame.url.replace(/^file:\/\//, '');
  // A package by its own path, wherever node_modules is (a worktree may link the checkout's).
  const inPackage = path.lastIndexOf('/node_modules/');
  const local = inPackage >= 0 ? path.slice(inPackage + '/node_modules/'.length) : path.startsWith('/') ? relative(REPO, path) : path;
  return `${local}:${frame.lineNumber + 1}`;
}

export function summarizeProfile(file: string, top = 20): { hotSpots: HotSpot[]; busyMs: number; idleMs: number } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  const callerOf = (id: number): string | undefined => {
    for (let p = parentOf.get(id); p !== undefined; p = parentOf.get(p)) {
      const frame = byId.get(p)?.callFrame;
      if (frame && frame.url !== '') return location(frame);
    }
    return undefined;
  };
  const inProfiler = (id: number): boolean => {
    for (let p: number | undefined = id; p !== undefined; p = parentOf.get(p)) if (byId.get(p)?.callFrame.url === 'node:inspector') return true;
    return false;
  };
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const entries = new Map<string, { name: string; where: string; calledFrom: string | undefined; us: number }>();
  let idle = 0;
  let busy = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    if (frame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    if (inProfiler(id)) continue;
    busy += us;
    const where = location(frame);
    const calledFrom = where === '(native)' && !VM_STATES.has(frame.functionName) ? callerOf(id) : undefined;
    const key = `${frame.functionName}@${where}@${calledFrom ?? ''}`;
    const entry = entries.get(key) ?? { name: frame.functionName || '(anonymous)', where, calledFrom, us: 0 };
    entry.us += us;
    entries.set(key, entry);
  }
  const hotSpots = [...entries.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({ name: e.name, where: e.where, calledFrom: e.calledFrom, selfPercent: (e.us / busy) * 100 }));
  return { hotSpots, busyMs: busy / 1000, idleMs: idle / 1000 };
}

if (import.meta.main) {
  const [file, top] = process.argv.slice(2);
  if (file === undefined) {
    process.stderr.write('usage: node bench/profile-summary.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  const { hotSpots, busyMs, idleMs } = summarizeProfile(file, top === undefined ? 30 : Number(top));
  process.stdout.write(`busy ${busyMs.toFixed(0)} ms, idle ${idleMs.toFixed(0)} ms\n`);
  for (const h of hotSpots) process.stdout.write(`${h.selfPercent.toFixed(1).padStart(5)}%  ${h.name}  ${h.where}${h.calledFrom ? ` ← ${h.calledFrom}` : ''}\n`);
}
