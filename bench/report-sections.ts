// Sections of docs/benchmarks.md written by other benchmarks than `npm run bench` (which regenerates the
// rest of the page): each lives between its own markers, and every writer carries the others over.
export interface SectionMarkers {
  readonly start: string;
  readonly end: string;
}

export const MIGRATE_SECTION: SectionMarkers = {
  start: '<!-- migrate-bench:start (written by `npm run bench:migrate`, kept by the other benchmarks) -->',
  end: '<!-- migrate-bench:end -->',
};

export const DECISION_SECTION: SectionMarkers = {
  start: '<!-- decision:start (written by `npm run bench:decision`, kept by the generator) -->',
  end: '<!-- decision:end -->',
};

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
