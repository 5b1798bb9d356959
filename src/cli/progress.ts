// Progress of work expected to take more than a second: a bar on a terminal, JSON lines on stderr when
// the output is not a terminal (logs, CI), nothing with --quiet.
import cliProgress from 'cli-progress';
import type { Io } from './io.ts';

export type ProgressMode = 'bar' | 'json' | 'silent';

export interface Progress {
  /** Sets the amount done, with extra counters shown next to it. */
  update(done: number, extra?: Readonly<Record<string, number>>): void;
  /** Final state; the bar stays on screen. */
  stop(): void;
}

export interface ProgressSpec {
  /** What is being done, e.g. "seeding". */
  readonly task: string;
  readonly total: number;
  /** Unit of `done`, e.g. "users". */
  readonly unit: string;
  /** Names of the extra counters, shown after the unit. */
  readonly extras?: readonly string[];
  /** Show the rate (units per second) and the time left: for long streams of work (migrations). */
  readonly rate?: boolean;
}

export function progressMode(io: Io, quiet: boolean): ProgressMode {
  if (quiet) return 'silent';
  return io.stderr.isTTY === true ? 'bar' : 'json';
}

const JSON_INTERVAL_MS = 500;

export function createProgress(io: Io, mode: ProgressMode, spec: ProgressSpec): Progress {
  switch (mode) {
    case 'silent':
      return { update() {}, stop() {} };
    case 'json':
      return jsonProgress(io, spec);
    case 'bar':
      return barProgress(io, spec);
  }
}

/** Units per second since the start, and seconds left at that rate (undefined while unknown). */
function pace(started: number, done: number, total: number): { rate: number; eta: number | undefined } {
  const seconds = (performance.now() - started) / 1000;
  // Too early for a rate that means anything.
  if (seconds < 0.5) return { rate: 0, eta: undefined };
  const rate = seconds > 0 ? done / seconds : 0;
  return { rate: Math.round(rate), eta: rate > 0 && total > done ? Math.ceil((total - done) / rate) : total > 0 && done >= total ? 0 : undefined };
}

function jsonProgress(io: Io, spec: ProgressSpec): Progress {
  let last = 0;
  let state: { done: number; extra: Readonly<Record<string, number>> } = { done: 0, extra: {} };
  let stopped = false;
  const started = performance.now();
  const emit = () => {
    const speed = spec.rate === true ? pace(started, state.done, spec.total) : undefined;
    const rate = speed ? { rate: speed.rate, ...(speed.eta === undefined ? {} : { eta_s: speed.eta }) } : {};
    io.stderr.write(`${JSON.stringify({ progress: spec.task, done: state.done, total: spec.total, unit: spec.unit, ...rate, ...state.extra })}\n`);
  };
  return {
    update(done, extra = {}) {
      state = { done, extra };
      const now = Date.now();
      if (now - last >= JSON_INTERVAL_MS) {
        last = now;
        emit();
      }
    },
    stop() {
      if (stopped) return;
      stopped = true;
      emit();
    },
  };
}

function barProgress(io: Io, spec: ProgressSpec): Progress {
  const extras = spec.extras ?? [];
  const rate = spec.rate === true ? ` | {rate} ${spec.unit}/s | ETA {eta_formatted}` : '';
  const format = `  ${spec.task} [{bar}] {percentage}% | {value}/{total} ${spec.unit}${rate}${extras.map((e) => ` | {${e}} ${e}`).join('')} | {duration_formatted}`;
  const bar = new cliProgress.SingleBar(
    { format, stream: io.stderr, hideCursor: true, clearOnComplete: false, barsize: 30, fps: 10, formatValue: (v, _o, type) => (type === 'value' || type === 'total' ? v.toLocaleString('en-US') : String(v)) },
    cliProgress.Presets.shades_classic,
  );
  const zero = Object.fromEntries([...extras, ...(spec.rate === true ? ['rate'] : [])].map((e) => [e, '0']));
  bar.start(spec.total, 0, zero);
  let stopped = false;
  const started = performance.now();
  return {
    update(done, extra = {}) {
      const shown = Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, v.toLocaleString('en-US')]));
      if (spec.rate === true) shown['rate'] = pace(started, done, spec.total).rate.toLocaleString('en-US');
      bar.update(done, shown);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
