// C2SP tlog-tiles: the tree served as static tiles. A tile at level L holds up to 256 consecutive hashes
// of tree level 8L; the hash tiles' paths are `tile/<L>/<N>[.p/<W>]` and the entry bundles' are
// `tile/entries/<N>[.p/<W>]`, with N in zero-padded 3-digit groups, all but the last prefixed by `x`.
import { EnclaveError } from '../errors.ts';
import { parseDecimal } from './encoding.ts';
import { HASH_SIZE, checkCount, nodeHash, splitStoredHashIndex, storedHashIndex, type HashReader } from './merkle.ts';

/** Tree levels per tile (tlog-tiles fixes it at 8). */
export const TILE_HEIGHT = 8;
/** Hashes in a full tile, entries in a full bundle. */
export const TILE_WIDTH = 256;
/** Tile levels 0..63 (tlog-tiles). */
export const MAX_TILE_LEVEL = 63;
/** An entry's length is a big-endian uint16 in a bundle. */
export const MAX_ENTRY_SIZE = 0xffff;

const MAX_PATH_LENGTH = 128;

/** A hash tile: level L of tiles (tree level 8L), index N within the level, width W (256 when full). */
export interface TileCoords {
  readonly level: number;
  readonly index: number;
  readonly width: number;
}

/** An entry bundle: index N (entries 256N ..), width W (256 when full). */
export interface BundleCoords {
  readonly index: number;
  readonly width: number;
}

export type TileResource = ({ readonly kind: 'hashes' } & TileCoords) | ({ readonly kind: 'entries' } & BundleCoords);

function invalid(message: string): never {
  throw new EnclaveError('invalid_log_data', message);
}

function checkCoords(index: number, width: number): void {
  checkCount(index, 'tile index');
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) invalid(`tile width must be 1..${TILE_WIDTH}, got ${String(width)}`);
}

function checkLevel(level: number): void {
  if (!Number.isInteger(level) || level < 0 || level > MAX_TILE_LEVEL) invalid(`tile level must be 0..${MAX_TILE_LEVEL}, got ${String(level)}`);
}

function indexPath(index: number, width: number): string {
  let digits = String(index);
  digits = digits.padStart(Math.ceil(digits.length / 3) * 3, '0');
  const groups: string[] = [];
  for (let i = 0; i < digits.length; i += 3) groups.push(digits.slice(i, i + 3));
  const last = groups.length - 1;
  const path = groups.map((g, i) => (i < last ? `x${g}` : g)).join('/');
  return width === TILE_WIDTH ? path : `${path}.p/${width}`;
}

/** `tile/<L>/<N>[.p/<W>]`, relative to the log's prefix. */
export function tilePath(level: number, index: number, width: number = TILE_WIDTH): string {
  checkLevel(level);
  checkCoords(index, width);
  return `tile/${level}/${indexPath(index, width)}`;
}

/** `tile/entries/<N>[.p/<W>]`, relative to the log's prefix. */
export function entriesPath(index: number, width: number = TILE_WIDTH): string {
  checkCoords(index, width);
  return `tile/entries/${indexPath(index, width)}`;
}

/** Parses a tile or entry-bundle path; only the canonical spelling is accepted (`invalid_log_data` otherwise). */
export function parseTilePath(path: string): TileResource {
  if (path.length > MAX_PATH_LENGTH) invalid('tile path is too long');
  const parts = path.split('/');
  if (parts[0] !== 'tile' || parts.length < 3) invalid('a tile path is tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]');
  const entries = parts[1] === 'entries';
  let level = 0;
  if (!entries) {
    level = parseDecimal(parts[1] ?? '', 'tile level');
    checkLevel(level);
  }
  const rest = parts.slice(2);
  let width = TILE_WIDTH;
  const beforeLast = rest[rest.length - 2];
  if (beforeLast?.endsWith('.p') === true) {
    width = parseDecimal(rest.pop() ?? '', 'partial tile width');
    if (width < 1 || width >= TILE_WIDTH) invalid(`partial tile width must be 1..${TILE_WIDTH - 1}, got ${width}`);
    rest[rest.length - 1] = beforeLast.slice(0, -2);
  }
  let digits = '';
  for (const [i, group] of rest.entries()) {
    const pattern = i < rest.length - 1 ? /^x[0-9]{3}$/ : /^[0-9]{3}$/;
    if (!pattern.test(group)) invalid('tile index must be 3-digit groups, all but the last prefixed by x (x001/x234/067)');
    digits += group.replace('x', '');
  }
  const index = Number(digits);
  if (!Number.isSafeInteger(index)) invalid('tile index is too large');
  const canonical = entries ? entriesPath(index, width) : tilePath(level, index, width);
  if (canonical !== path) invalid(`tile path is not canonical (expected ${canonical})`);
  return entries ? { kind: 'entries', index, width } : { kind: 'hashes', level, index, width };
}

/** Width of tile (level, index) in a tree of `size` leaves: 256, a partial width, or 0 if it has none. */
export function tileWidth(level: number, index: number, size: number): number {
  checkLevel(level);
  checkCount(index, 'tile index');
  checkCount(size, 'tree size');
  const atLevel = Math.floor(size / TILE_WIDTH ** level);
  const start = index * TILE_WIDTH;
  if (start + TILE_WIDTH <= atLevel) return TILE_WIDTH;
  return atLevel > start ? atLevel - start : 0;
}

/** Stored-hash indexes of a tile's hashes (tree level 8L, indexes 256N .. 256N+W-1), to build it from storage. */
export function tileHashIndexes(tile: TileCoords): number[] {
  checkLevel(tile.level);
  checkCoords(tile.index, tile.width);
  const out: number[] = [];
  for (let i = 0; i < tile.width; i++) out.push(storedHashIndex(TILE_HEIGHT * tile.level, tile.index * TILE_WIDTH + i));
  return out;
}

/**
 * The hash tiles that are new or wider when the tree grows from `oldSize` to `size` (like Go's
 * tlog.NewTiles). The entry bundles that change are those of the level-0 tiles listed.
 */
export function changedTiles(oldSize: number, size: number): TileCoords[] {
  checkCount(oldSize, 'old tree size');
  checkCount(size, 'tree size');
  if (oldSize > size) invalid(`old tree size ${oldSize} is larger than tree size ${size}`);
  const out: TileCoords[] = [];
  for (let level = 0; Math.floor(size / TILE_WIDTH ** level) > 0; level++) {
    const oldN = Math.floor(oldSize / TILE_WIDTH ** level);
    const newN = Math.floor(size / TILE_WIDTH ** level);
    if (oldN === newN) continue;
    const lastFull = Math.floor(newN / TILE_WIDTH);
    for (let n = Math.floor(oldN / TILE_WIDTH); n < lastFull; n++) out.push({ level, index: n, width: TILE_WIDTH });
    const partial = newN - lastFull * TILE_WIDTH;
    if (partial > 0) out.push({ level, index: lastFull, width: partial });
  }
  return out;
}

/** Every hash tile of a tree of `size` leaves, level by level. */
export function treeTiles(size: number): TileCoords[] {
  return changedTiles(0, size);
}

/** A tile's bytes: its hashes concatenated. */
export function encodeTile(hashes: readonly Uint8Array[]): Uint8Array {
  if (hashes.length < 1 || hashes.length > TILE_WIDTH) invalid(`a tile holds 1..${TILE_WIDTH} hashes, not ${hashes.length}`);
  const out = new Uint8Array(hashes.length * HASH_SIZE);
  for (const [i, h] of hashes.entries()) {
    if (h.byteLength !== HASH_SIZE) invalid(`tile hash ${i} is ${h.byteLength} bytes`);
    out.set(h, i * HASH_SIZE);
  }
  return out;
}

/** Splits a tile's bytes into `width` hashes; the length must be exactly width × 32. */
export function decodeTile(data: Uint8Array, width: number, what = 'tile'): Uint8Array[] {
  checkCoords(0, width);
  if (data.byteLength !== width * HASH_SIZE) invalid(`${what} is ${data.byteLength} bytes, expected ${width * HASH_SIZE} (${width} hashes)`);
  const out: Uint8Array[] = [];
  for (let i = 0; i < width; i++) out.push(data.slice(i * HASH_SIZE, (i + 1) * HASH_SIZE));
  return out;
}

/** An entry bundle: each entry prefixed by its length as a big-endian uint16. */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Uint8Array {
  if (entries.length < 1 || entries.length > TILE_WIDTH) invalid(`an entry bundle holds 1..${TILE_WIDTH} entries, not ${entries.length}`);
  let total = 0;
  for (const [i, e] of entries.entries()) {
    if (e.byteLength > MAX_ENTRY_SIZE) invalid(`entry ${i} is ${e.byteLength} bytes; a bundle entry is at most ${MAX_ENTRY_SIZE}`);
    total += 2 + e.byteLength;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const e of entries) {
    out[at] = e.byteLength >> 8;
    out[at + 1] = e.byteLength & 0xff;
    out.set(e, at + 2);
    at += 2 + e.byteLength;
  }
  return out;
}

/** Decodes an entry bundle strictly: no truncated entry, no trailing byte, and `expected` entries if given. */
export function decodeEntryBundle(data: Uint8Array, expected?: number, what = 'entry bundle'): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < data.byteLength) {
    if (out.length === TILE_WIDTH) invalid(`${what} has more than ${TILE_WIDTH} entries`);
    if (at + 2 > data.byteLength) invalid(`${what} ends inside the length of entry ${out.length}`);
    const length = ((data[at] ?? 0) << 8) | (data[at + 1] ?? 0);
    at += 2;
    if (at + length > data.byteLength) invalid(`${what} ends inside entry ${out.length} (${length} bytes announced, ${data.byteLength - at} left)`);
    out.push(data.slice(at, at + length));
    at += length;
  }
  if (out.length === 0) invalid(`${what} is empty`);
  if (expected !== undefined && out.length !== expected) invalid(`${what} has ${out.length} entries, expected ${expected}`);
  return out;
}

/** Merkle tree hash of a power-of-two run of hashes inside one tile (they are one complete subtree). */
export function tileSubtreeHash(hashes: readonly Uint8Array[], start: number, end: number): Uint8Array {
  if (end - start === 1) return hashes[start] as Uint8Array;
  const mid = start + (end - start) / 2;
  return nodeHash(tileSubtreeHash(hashes, start, mid), tileSubtreeHash(hashes, mid, end));
}

/** The hash of a full tile's subtree: the hash the tile one level up holds for it. */
export function fullTileHash(hashes: readonly Uint8Array[]): Uint8Array {
  if (hashes.length !== TILE_WIDTH) invalid(`only a full tile (${TILE_WIDTH} hashes) has a hash in the level above, not one of ${hashes.length}`);
  return tileSubtreeHash(hashes, 0, TILE_WIDTH);
}

/** Where a stored hash lives: the tile holding its subtree and the run of that tile's hashes to combine. */
export function tileForStoredHash(index: number): { level: number; index: number; start: number; end: number } {
  const { level, n } = splitStoredHashIndex(index);
  const tileLevel = Math.floor(level / TILE_HEIGHT);
  const within = level - tileLevel * TILE_HEIGHT; // levels above the tile's base
  const span = 2 ** within; // tile hashes under this stored hash
  const first = n * span; // first base-level index under it
  const tileIndex = Math.floor(first / TILE_WIDTH);
  const start = first - tileIndex * TILE_WIDTH;
  return { level: tileLevel, index: tileIndex, start, end: start + span };
}

/** Fetches a hash tile and returns its hashes (validated: exactly `width` hashes). */
export type TileFetcher = (tile: TileCoords) => Promise<readonly Uint8Array[]>;

/**
 * A HashReader over the tiles of a tree of `size` leaves, as an outside party sees it: any stored hash
 * is read or recomputed from the one tile (full or partial, as the tree dictates) that covers it.
 * Tiles are not authenticated here; whatever is computed from them (a root, a proof) must be checked
 * against a signed checkpoint. Each tile is fetched once per reader.
 */
export function tileHashReader(size: number, fetch: TileFetcher): HashReader {
  checkCount(size, 'tree size');
  const cache = new Map<string, Promise<readonly Uint8Array[]>>();
  const tile = (level: number, index: number): Promise<readonly Uint8Array[]> => {
    const width = tileWidth(level, index, size);
    const key = tilePath(level, index, width === 0 ? TILE_WIDTH : width);
    let pending = cache.get(key);
    if (pending === undefined) {
      pending = fetch({ level, index, width }).then((hashes) => {
        if (hashes.length !== width) invalid(`${key} has ${hashes.length} hashes, expected ${width}`);
        return hashes;
      });
      cache.set(key, pending);
    }
    return pending;
  };
  return {
    async readHashes(indexes) {
      return Promise.all(
        indexes.map(async (stored) => {
          const where = tileForStoredHash(stored);
          const width = tileWidth(where.level, where.index, size);
          if (where.end > width) invalid(`stored hash ${stored} is not part of a tree of size ${size}`);
          return tileSubtreeHash(await tile(where.level, where.index), where.start, where.end);
        }),
      );
    },
  };
}
