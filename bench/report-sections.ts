// Sections of docs/benchmarks.md written by other benchmarks than `npm run bench` (which regenerates the
// rest of the page): each lives between its own markers, and every writer carries the others over.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface SectionMarkers {
  readonly start: string;
  readonly end: string;
}

const markers = (name: string, by: string): SectionMarkers => ({
  start: `<!-- ${name}:start (written by \`${by}\`, kept by the other benchmarks) -->`,
  end: `<!-- ${name}:end -->`,
});

export const LOG_SECTION = markers('log-bench', 'npm run bench:log');
export const DECISION_SECTION = markers('decision', 'npm run bench:decision');
export const MIGRATE_SECTION = markers('migrate-bench', 'npm run bench:migrate');
export const SCALE_SECTION = markers('scale-bench', 'npm run bench:scale');
/** In page order. */
export const KEPT_SECTIONS: readonly SectionMarkers[] = [LOG_SECTION, DECISION_SECTION, MIGRATE_SECTION, SCALE_SECTION];

/** The section of a page (markers included), or undefined when it has none. */
export function readSection(text: string, m: SectionMarkers): string | undefined {
  const start = text.indexOf(m.start);
  const end = text.indexOf(m.end);
  return start < 0 || end < start ? undefined : text.slice(start, end + m.end.length);
}

/** The page with the section replaced, or appended when it has none; `section` includes its markers. */
export function replaceSection(text: string, m: SectionMarkers, section: string): string {
  const old = readSection(text, m);
  return old === undefined ? `${text.trimEnd()}\n\n${section}\n` : text.replace(old, () => section);
}

/** Replaces (or appends) the section of the page at `path` with `body` between its markers. */
export function writeSection(path: string, m: SectionMarkers, body: string): void {
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, replaceSection(text, m, `${m.start}\n${body.trim()}\n${m.end}`));
}

/** The page text of every kept section found at `path`, in page order. */
export function keptSections(path: string): string[] {
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  return KEPT_SECTIONS.map((m) => readSection(text, m)).filter((s) => s !== undefined);
}
