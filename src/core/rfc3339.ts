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

// The day of the last date-time formatted and its "YYYY-MM-DDT": reads and log entries format several
// times a request, mostly within one day, and Date#toISOString costs about a microsecond each.
let cachedDay = Number.NaN;
let cachedPrefix = '';
const MS_PER_DAY = 86_400_000;
/** Year 10000: from there on toISOString writes an expanded year (ECMA-262, Date Time String Format), so it does the work. */
const END_OF_4_DIGIT_YEARS = 253_402_300_800_000;
const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);

/** The RFC 3339 form of milliseconds since the epoch, in UTC with milliseconds: exactly Date#toISOString's. */
export function formatRfc3339(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0 || ms >= END_OF_4_DIGIT_YEARS) return new Date(ms).toISOString();
  const day = Math.floor(ms / MS_PER_DAY);
  if (day !== cachedDay) {
    cachedPrefix = new Date(day * MS_PER_DAY).toISOString().slice(0, 11);
    cachedDay = day;
  }
  let rest = ms - day * MS_PER_DAY;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = Math.floor(rest / 1000);
  const f = rest - s * 1000;
  return `${cachedPrefix}${pad2(h)}:${pad2(m)}:${pad2(s)}.${f < 10 ? '00' : f < 100 ? '0' : ''}${f}Z`;
}
