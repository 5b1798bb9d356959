// The request sequence both servers receive: record paths drawn uniformly at random (seeded, so every
// run and both servers read the same ids in the same order) from the whole seeded set.
import { recordRef, type Manifest } from './dataset.ts';
import { randomInt, seededRandom } from './prng.ts';

export const PATH_SEED = 0x5eed;

export function recordPath(collection: string, id: string): string {
  return `/v1/collections/${collection}/records/${encodeURIComponent(id)}`;
}

/** `count` paths of random records of the data set. */
export function requestPaths(manifest: Pick<Manifest, 'subjects' | 'recordsPerSubject'>, count: number, seed = PATH_SEED): readonly string[] {
  const next = seededRandom(seed);
  const paths: string[] = [];
  for (let n = 0; n < count; n++) {
    const ref = recordRef(randomInt(next, manifest.subjects), randomInt(next, manifest.recordsPerSubject));
    paths.push(recordPath(ref.collection, ref.id));
  }
  return paths;
}

/** An endless walk over the list, shared by all connections of one run; restart() rewinds it. */
export class PathCursor {
  private readonly paths: readonly string[];
  private i = 0;

  constructor(paths: readonly string[]) {
    if (paths.length === 0) throw new Error('no request paths');
    this.paths = paths;
  }

  next(): string {
    const p = this.paths[this.i] as string;
    this.i = this.i + 1 === this.paths.length ? 0 : this.i + 1;
    return p;
  }

  restart(): void {
    this.i = 0;
  }
}
