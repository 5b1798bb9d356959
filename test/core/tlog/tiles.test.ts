// C2SP tlog-tiles: paths (strict, canonical), which tiles a growing tree has, tile and entry-bundle
// encodings, and proofs computed from tiles alone equal those computed from the stored hashes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isEnclaveError } from '../../../src/core/errors.ts';
import {
  TILE_WIDTH,
  changedTiles,
  decodeEntryBundle,
  decodeTile,
  encodeEntryBundle,
  encodeTile,
  entriesPath,
  fullTileHash,
  parseTilePath,
  proveRecord,
  proveTree,
  tileHashIndexes,
  tileHashReader,
  tilePath,
  tileWidth,
  treeHash,
  treeTiles,
  type TileCoords,
} from '../../../src/core/tlog/index.ts';
import { assertAsyncProperty, assertProperty, hex, throwsCode, treeOf, type MemoryTree } from './fixtures.ts';

const rejects = (fn: () => unknown, pattern?: RegExp): void => throwsCode(fn, 'invalid_log_data', pattern);


test('tile and entry-bundle paths are spelled as tlog-tiles says', () => {
  assert.equal(tilePath(0, 1234067), 'tile/0/x001/x234/067');
  assert.equal(tilePath(0, 0), 'tile/0/000');
  assert.equal(tilePath(1, 5, 3), 'tile/1/005.p/3');
  assert.equal(tilePath(63, 1000, 255), 'tile/63/x001/000.p/255');
  assert.equal(entriesPath(0, 7), 'tile/entries/000.p/7');
  assert.equal(entriesPath(273), 'tile/entries/273');
  assert.deepEqual(parseTilePath('tile/0/x001/x234/067'), { kind: 'hashes', level: 0, index: 1234067, width: 256 });
  assert.deepEqual(parseTilePath('tile/2/x001/x234/067.p/8'), { kind: 'hashes', level: 2, index: 1234067, width: 8 });
  assert.deepEqual(parseTilePath('tile/entries/x001/000.p/1'), { kind: 'entries', index: 1000, width: 1 });
});

test('malformed or non-canonical tile paths are refused with invalid_log_data', () => {
  const bad = [
    '', 'tile', 'tile/0', 'tile/entries', 'tiles/0/000', '/tile/0/000', 'tile/0/000/', 'tile/0/1', 'tile/0/0001', 'tile/00/000',
    'tile/64/000', 'tile/-1/000', 'tile/x/000', 'tile/0/x000/001', 'tile/0/001/002', 'tile/0/x001', 'tile/0/x1/000', 'tile/0/-01',
    'tile/0/001.p/0', 'tile/0/001.p/256', 'tile/0/001.p/05', 'tile/0/001.p', 'tile/0/001.p/', 'tile/0/001.p/1/2', 'tile/entries/0',
    'tile/0/001.q/3', 'tile/entries/x000/000', 'tile/0/ 001', 'tile/1e1/000', `tile/0/${'x999/'.repeat(30)}999`,
  ];
  for (const path of bad) rejects(() => parseTilePath(path));
  rejects(() => tilePath(0, 0, 0), /width/);
  rejects(() => tilePath(64, 0), /level/);
  rejects(() => entriesPath(-1), /index/);
});

test('property: paths round-trip, and any string either parses to its own canonical path or is invalid_log_data', () => {
  assertProperty(
    fc.property(fc.integer({ min: 0, max: 63 }), fc.integer({ min: 0, max: 2 ** 45 }), fc.integer({ min: 1, max: 256 }), fc.boolean(), (level, index, width, entries) => {
      const path = entries ? entriesPath(index, width) : tilePath(level, index, width);
      assert.deepEqual(parseTilePath(path), entries ? { kind: 'entries', index, width } : { kind: 'hashes', level, index, width });
    }),
    { numRuns: 1000 },
  );
  const pathish = fc.array(fc.constantFrom('tile', 'entries', '/', 'x', '0', '1', '9', '.p', '00', '256', '.', 'p'), { maxLength: 14 }).map((a) => a.join(''));
  assertProperty(
    fc.property(fc.oneof(pathish, fc.string()), (path) => {
      try {
        const r = parseTilePath(path);
        assert.equal(r.kind === 'entries' ? entriesPath(r.index, r.width) : tilePath(r.level, r.index, r.width), path);
      } catch (err) {
        assert.ok(isEnclaveError(err, 'invalid_log_data'), String(err));
      }
    }),
    { numRuns: 3000 },
  );
});

test('the tiles of a tree: the tlog-tiles examples, and growth lists exactly the new or wider tiles', () => {
  // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level 0 tile of
  // width 112, one full level 1 tile, one partial level 1 tile of width 17, and one partial level 2 tile of width 1."
  const tiles = treeTiles(70_000);
  assert.equal(tiles.filter((t) => t.level === 0 && t.width === 256).length, 273);
  assert.deepEqual(tiles.filter((t) => t.width !== 256 || t.level > 0), [
    { level: 0, index: 273, width: 112 },
    { level: 1, index: 0, width: 256 },
    { level: 1, index: 1, width: 17 },
    { level: 2, index: 0, width: 1 },
  ]);
  // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1 tile of width 1."
  assert.deepEqual(treeTiles(256), [{ level: 0, index: 0, width: 256 }, { level: 1, index: 0, width: 1 }]);
  assert.deepEqual(treeTiles(0), []);
  assert.equal(tileWidth(0, 273, 70_000), 112);
  assert.equal(tileWidth(0, 272, 70_000), 256);
  assert.equal(tileWidth(0, 274, 70_000), 0);
  assert.equal(tileWidth(3, 0, 70_000), 0);
  const key = (t: TileCoords): string => tilePath(t.level, t.index, t.width);
  assertProperty(
    fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 0, max: 1_000_000 }), (a, b) => {
      const [oldSize, size] = a <= b ? [a, b] : [b, a];
      const before = new Set(treeTiles(oldSize).map(key));
      const expected = treeTiles(size).map(key).filter((p) => !before.has(p));
      assert.deepEqual(changedTiles(oldSize, size).map(key), expected);
      for (const t of treeTiles(size)) assert.equal(tileWidth(t.level, t.index, size), t.width);
    }),
    { numRuns: 300 },
  );
  rejects(() => changedTiles(5, 4), /larger/);
});

test('tile data and entry bundles round-trip, and malformed bytes are refused', () => {
  assertProperty(
    fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 256 }), (entries) => {
      const bundle = encodeEntryBundle(entries);
      assert.deepEqual(decodeEntryBundle(bundle, entries.length).map(hex), entries.map(hex));
    }),
    { numRuns: 200 },
  );
  const bundle = encodeEntryBundle([new Uint8Array(0), new Uint8Array([0x61]), new Uint8Array(300)]);
  assert.equal(hex(bundle.subarray(0, 5)), '0000000161');
  rejects(() => decodeEntryBundle(bundle.subarray(0, bundle.length - 1)), /ends inside entry 2/);
  rejects(() => decodeEntryBundle(bundle.subarray(0, 4)), /ends inside the length of entry 1|ends inside entry 1/);
  rejects(() => decodeEntryBundle(new Uint8Array([0])), /length of entry 0/);
  rejects(() => decodeEntryBundle(new Uint8Array(0)), /empty/);
  rejects(() => decodeEntryBundle(bundle, 4), /has 3 entries, expected 4/);
  rejects(() => decodeEntryBundle(new Uint8Array(257 * 2)), /more than 256/); // 257 empty entries
  rejects(() => encodeEntryBundle([new Uint8Array(65_536)]), /65535/);
  rejects(() => encodeEntryBundle([]), /1..256/);
  const hashes = Array.from({ length: 3 }, (_, i) => new Uint8Array(32).fill(i));
  assert.deepEqual(decodeTile(encodeTile(hashes), 3).map(hex), hashes.map(hex));
  rejects(() => decodeTile(encodeTile(hashes), 4), /96 bytes, expected 128/);
  rejects(() => decodeTile(new Uint8Array(95), 3));
  rejects(() => encodeTile([new Uint8Array(31)]), /31 bytes/);
  assertProperty(
    fc.property(fc.uint8Array({ maxLength: 2000 }), fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }), (data, expected) => {
      try {
        const entries = decodeEntryBundle(data, expected);
        assert.deepEqual(encodeEntryBundle(entries), data);
      } catch (err) {
        assert.ok(isEnclaveError(err, 'invalid_log_data'), String(err));
      }
    }),
    { numRuns: 1000 },
  );
});

function tileFetcherOver(tree: MemoryTree, seen: TileCoords[]): (t: TileCoords) => Promise<readonly Uint8Array[]> {
  return async (t) => {
    seen.push(t);
    return decodeTile(encodeTile(await tree.readHashes(tileHashIndexes(t))), t.width);
  };
}

test('proofs computed from tiles alone equal those from the stored hashes, fetching only tiles the tree has', async () => {
  const tree = treeOf(66_000); // three tile levels
  const seen: TileCoords[] = [];
  const sizes = [1, 2, 255, 256, 257, 511, 512, 65_535, 65_536, 65_537, 66_000];
  for (const size of sizes) {
    const reader = tileHashReader(size, tileFetcherOver(tree, seen));
    assert.equal(hex(await treeHash(size, reader)), hex(await treeHash(size, tree)), `root of ${size}`);
  }
  await assertAsyncProperty(
    fc.asyncProperty(fc.integer({ min: 1, max: 66_000 }), fc.nat(), fc.nat(), async (size, i, j) => {
      const index = i % size;
      const oldSize = 1 + (j % size);
      const reader = tileHashReader(size, tileFetcherOver(tree, seen));
      assert.deepEqual((await proveRecord(size, index, reader)).map(hex), (await proveRecord(size, index, tree)).map(hex));
      assert.deepEqual((await proveTree(size, oldSize, reader)).map(hex), (await proveTree(size, oldSize, tree)).map(hex));
    }),
    { numRuns: 150 },
  );
  // A full level-0 tile hashes to the level-1 tile's first hash.
  const level0 = await tree.readHashes(tileHashIndexes({ level: 0, index: 0, width: TILE_WIDTH }));
  const level1 = await tree.readHashes(tileHashIndexes({ level: 1, index: 0, width: 1 }));
  assert.equal(hex(fullTileHash(level0)), hex(level1[0] as Uint8Array));
  rejects(() => fullTileHash(level0.slice(1)), /only a full tile/);
  assert.ok(seen.length > 0);
});

test('a tile reader refuses a tile of the wrong width and hashes outside the tree', async () => {
  const tree = treeOf(300);
  const short = tileHashReader(300, async (t) => (await tree.readHashes(tileHashIndexes(t))).slice(1));
  await assert.rejects(treeHash(300, short), (e: unknown) => isEnclaveError(e, 'invalid_log_data') && /tile\/\d\/000(\.p\/\d+)? has \d+ hashes, expected \d+/.test(e.message));
  const reader = tileHashReader(10, async (t) => tree.readHashes(tileHashIndexes(t)));
  // Stored hash 38 is leaf 20's: outside a tree of 10 leaves.
  await assert.rejects(reader.readHashes([38]), (e: unknown) => isEnclaveError(e, 'invalid_log_data') && /not part of a tree of size 10/.test(e.message));
});
