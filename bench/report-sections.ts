// Sections of docs/benchmarks.md written by other benchmarks than `npm run bench` (which regenerates
// the rest of the page): each is kept between its markers when the others rewrite the page.
export const MIGRATE_START = '<!-- migrate-bench:start (bench/migrate.ts keeps this section) -->';
export const MIGRATE_END = '<!-- migrate-bench:end -->';

/** The migration section of a page, markers included; empty when there is none. */
export function migrateSection(text: string): string {
  const start = text.indexOf(MIGRATE_START);
  const end = text.indexOf(MIGRATE_END);
  return start < 0 || end < start ? '' : text.slice(start, end + MIGRATE_END.length);
}

/** The page with its migration section replaced (or appended). */
export function replaceSection(text: string, section: string): string {
  const old = migrateSection(text);
  return old === '' ? `${text.trimEnd()}\n\n${section}\n` : text.replace(old, section);
}
