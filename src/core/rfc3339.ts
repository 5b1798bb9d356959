// RFC 3339 §5.6 date-times, read strictly. Date.parse alone is lenient: it rolls 2026-02-30 over to
// March 2, takes 24:00:00 as the next day and accepts forms RFC 3339 does not have.
const RE = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

function daysIn(year: number, month: number): number {
  // Day 0 of the next month is the last of this one; setUTCFullYear, as Date.UTC takes 0-99 for 19xx.
  const d = new Date(0);
  d.setUTCFullYear(year, month, 0);
  return d.getUTCDate();
}

/** Milliseconds since the epoch of an RFC 3339 date-time, or undefined if the text is not one (leap seconds are not taken). */
export function parseRfc3339(text: string): number | undefined {
  const m = RE.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) return undefined;
  const offset = m[8] ?? 'Z';
  if (offset.length > 1 && (Number(offset.slice(1, 3)) > 23 || Number(offset.slice(4, 6)) > 59)) return undefined;
  const ms = Date.parse(text.toUpperCase());
  return Number.isNaN(ms) ? undefined : ms;
}
