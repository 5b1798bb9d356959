// Full entry bundles never change (tlog-tiles: immutable), and serving one reads its 256 entries from the
// log store and gzips them. The bundles served last are kept as sent, with their gzip once a client asked
// for it; a monitor tailing the log and several verifiers ask for the same ones. Partial bundles are not
// kept: a wider one replaces each.
import { gzipSync } from 'node:zlib';
import { Lru } from '../core/lru.ts';

/** Bundles kept; with the size limit below, at most about 32 MiB (a few MiB for typical entries). */
const BUNDLES = 64;
/** A bundle larger than this (entries of many KiB) is served but not kept. */
const MAX_KEPT_BYTES = 256 * 1024;

export interface Bundle {
  readonly data: Uint8Array;
  readonly gzip: () => Uint8Array;
}

interface Kept {
  readonly data: Uint8Array;
  gzipped?: Uint8Array;
}

function serve(kept: Kept): Bundle {
  return {
    data: kept.data,
    gzip: () => (kept.gzipped ??= gzipSync(kept.data)),
  };
}

export class BundleCache {
  private readonly kept = new Lru<number, Kept>(BUNDLES);

  /** Full bundle `index`, from the cache or from `read` (which checks it is within the published tree). */
  async full(index: number, read: () => Promise<Uint8Array>): Promise<Bundle> {
    const hit = this.kept.get(index);
    if (hit) return serve(hit);
    const kept: Kept = { data: await read() };
    if (kept.data.byteLength <= MAX_KEPT_BYTES) this.kept.set(index, kept);
    return serve(kept);
  }

  /** A bundle that is not kept (a partial one). */
  static once(data: Uint8Array): Bundle {
    return serve({ data });
  }
}
