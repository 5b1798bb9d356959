// Durations as people write them in the configuration and on the command line: a whole number and one
// unit, `90s`, `15m`, `8h`, `2d`. Nothing else is accepted (no `1h30m`, no bare numbers, no zero).
export const DURATION_PATTERN = '^[1-9][0-9]{0,5}[smhd]$';

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const RE = new RegExp(DURATION_PATTERN);

/** Milliseconds of a duration such as `8h`, or undefined if the text is not one. */
export function parseDuration(text: string): number | undefined {
  if (!RE.test(text)) return undefined;
  const unit = text.slice(-1) as keyof typeof UNIT_MS;
  return Number(text.slice(0, -1)) * UNIT_MS[unit];
}

/** The largest exact unit: 5400000 → `90m`, 7200000 → `2h`, 1500 → `1.5s` (never rounds silently). */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms / 1000}s`;
}
