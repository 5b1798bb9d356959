// The bench draws from the demo's seeded PRNG (mulberry32), so the data and the request sequence are
// the same on every run.
import { mulberry32, type Rng } from '../src/cli/demo/prng.ts';

export type Random = Rng;
export const seededRandom: (seed: number) => Random = mulberry32;

export function randomInt(random: Random, below: number): number {
  return Math.floor(random() * below);
}
