// A small, fast, seeded PRNG (mulberry32) for the demo's synthetic people. Every user draws from streams
// derived from (seed, user index, purpose), so any user can be generated alone and always comes out the
// same: batches, tests and re-runs agree without generating everyone before them.

export type Rng = () => number;

export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes integers into a well-spread 32-bit value (murmur3's finalizer over a running hash). */
export function mix(...parts: readonly number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

export function rngFor(seed: number, index: number, stream: number): Rng {
  return mulberry32(mix(seed, index, stream));
}

/** A whole number from min to max inclusive. */
export function int(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  const item = items[Math.floor(rng() * items.length)];
  if (item === undefined) throw new RangeError('pick from an empty list');
  return item;
}

export function chance(rng: Rng, p: number): boolean {
  return rng() < p;
}

/** Picks by weight from [value, weight] pairs. */
export function weighted<T>(rng: Rng, table: readonly (readonly [T, number])[]): T {
  const total = table.reduce((s, [, w]) => s + w, 0);
  let r = rng() * total;
  for (const [value, w] of table) {
    r -= w;
    if (r < 0) return value;
  }
  const last = table.at(-1);
  if (last === undefined) throw new RangeError('weighted pick from an empty table');
  return last[0];
}
