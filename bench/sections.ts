// Sections of docs/benchmarks.md that a benchmark other than `npm run bench` writes between markers of
// its own (the log's, the decision latency's, the scale-out's); `npm run bench` (report.ts) regenerates the
// rest of the page and carries every one of them over as it is.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface SectionMarkers {
  readonly start: string;
  readonly end: string;
}

export const LOG_SECTION: SectionMarkers = { start: '<!-- log-bench:start (written by `npm run bench:log`, kept by `npm run bench`) -->', end: '<!-- log-bench:end -->' };
export const DECISION_SECTION: SectionMarkers = { start: '<!-- decision:start (written by `npm run bench:decision`, kept by the generator) -->', end: '<!-- decision:end -->' };
export const SCALE_SECTION: SectionMarkers = { start: '<!-- scale-bench:start (written by `npm run bench:scale`, kept by `npm run bench`) -->', end: '<!-- scale-bench:end -->' };
/** In page order. */
export const KEPT_SECTIONS: readonly SectionMarkers[] = [LOG_SECTION, DECISION_SECTION, SCALE_SECTION];

/** The section of a page (markers included), or undefined when it has none. */
export function readSection(path: string, markers: SectionMarkers): string | undefined {
  if (!existsSync(path)) return undefined;
  const text = readFileSync(path, 'utf8');
  const start = text.indexOf(markers.start);
  const end = text.indexOf(markers.end);
  if (start < 0 || end < start) return undefined;
  return text.slice(start, end + markers.end.length);
}

/** Replaces the section of the page at `path` (or appends it), leaving everything else as it is. */
export function writeSection(path: string, markers: SectionMarkers, body: string): void {
  const section = `${markers.start}\n${body.trim()}\n${markers.end}`;
  const old = readSection(path, markers);
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, old === undefined ? `${text.trimEnd()}\n\n${section}\n` : text.replace(old, section));
}
