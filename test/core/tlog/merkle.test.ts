// RFC 9162 Merkle hashing and proofs: the RFC 6962 reference vectors, every proof of every tree up to
// 70 leaves against a naive recursive implementation, tampered proofs, and the stored-hash layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isEnclaveError } from '../../../src/core/errors.ts';
import {
  EMPTY_FRONTIER,
  EMPTY_TREE_HASH,
  appendToFrontier,
  checkRecord,
  checkTree,
  frontierIndexes,
  frontierRoot,
  leafHash,
  proveRecord,
  proveTree,
  readFrontier,
  splitStoredHashIndex,
  storedHashCount,
  storedHashIndex,
  storedHashesForRecord,
  treeHash,
} from '../../../src/core/tlog/index.ts';
import { MemoryTree, assertProperty, throwsCode, hex, naivePath, naiveRoot, naiveSubproof, treeOf, unhex } from './fixtures.ts';

// The RFC 6962 test vectors (certificate-transparency's merkle_tree_test.cc, also used by Go's and
// transparency-dev's test suites).
const CT_ENTRIES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(unhex);
const CT_ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const CT_INCLUSION: [index: number, size: number, proof: string[]][] = [
  [0, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [5, 8, ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [1, 5, ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
];
const CT_CONSISTENCY: [oldSize: number, size: number, proof: string[]][] = [
  [1, 1, []],
  [1, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [6, 8, ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 5, ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
];

function ctTree(): MemoryTree {
  const t = new MemoryTree();
  t.appendEntries(CT_ENTRIES);
  return t;
}

function flipBit(h: Uint8Array, at: number, mask: number): Uint8Array {
  const out = h.slice();
  out[at] = (out[at] ?? 0) ^ mask;
  return out;
}

function root(n: number): Uint8Array {
  return unhex(CT_ROOTS[n] as string);
}


test('tree heads of the RFC 6962 vectors, for every size 0..8', async () => {
  assert.equal(hex(EMPTY_TREE_HASH), CT_ROOTS[0]);
  const t = ctTree();
  for (let n = 0; n <= 8; n++) {
    assert.equal(hex(await treeHash(n, t)), CT_ROOTS[n], `size ${n}`);
    assert.equal(hex(naiveRoot(t.leaves.slice(0, n))), CT_ROOTS[n]);
  }
  assert.equal(hex(frontierRoot(t.frontier)), CT_ROOTS[8]);
});

test('inclusion proofs of the RFC 6962 vectors are produced and verify', async () => {
  const t = ctTree();
  for (const [index, size, expected] of CT_INCLUSION) {
    const proof = await proveRecord(size, index, t);
    assert.deepEqual(proof.map(hex), expected, `index ${index} size ${size}`);
    checkRecord(proof, size, root(size), index, leafHash(CT_ENTRIES[index] as Uint8Array));
  }
});

test('consistency proofs of the RFC 6962 vectors are produced and verify', async () => {
  const t = ctTree();
  for (const [oldSize, size, expected] of CT_CONSISTENCY) {
    const proof = await proveTree(size, oldSize, t);
    assert.deepEqual(proof.map(hex), expected, `${oldSize} -> ${size}`);
    checkTree(proof, size, root(size), oldSize, root(oldSize));
  }
});

test('stored-hash indexes follow the Go tlog layout and invert', () => {
  // Leaf 0, leaf 1, node(0,1), leaf 2, leaf 3, node(2,3), node(0..3), leaf 4 ...
  const layout: [number, number][] = [[0, 0], [0, 1], [1, 0], [0, 2], [0, 3], [1, 1], [2, 0], [0, 4], [0, 5], [1, 2], [0, 6]];
  for (const [i, [level, n]] of layout.entries()) {
    assert.equal(storedHashIndex(level, n), i, `(${level}, ${n})`);
    assert.deepEqual(splitStoredHashIndex(i), { level, n });
  }
  assert.deepEqual([0, 1, 2, 3, 4, 5, 8].map(storedHashCount), [0, 1, 3, 4, 7, 8, 15]);
  assertProperty(
    fc.property(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 2 ** 30 }), (level, n) => {
      fc.pre(n * 2 ** level < 2 ** 48);
      assert.deepEqual(splitStoredHashIndex(storedHashIndex(level, n)), { level, n });
    }),
    { numRuns: 2000 },
  );
});

test('appending in memory and appending through a HashReader store the same hashes', async () => {
  const t = treeOf(70);
  assert.equal(t.stored.length, storedHashCount(70));
  const rebuilt = new MemoryTree();
  for (const [n, leaf] of t.leaves.entries()) {
    const hashes = await storedHashesForRecord(n, leaf, rebuilt);
    assert.equal(rebuilt.stored.length, storedHashIndex(0, n));
    rebuilt.stored.push(...hashes);
  }
  assert.deepEqual(rebuilt.stored.map(hex), t.stored.map(hex));
  // A frontier read back from storage continues the tree exactly.
  const f = await readFrontier(70, t);
  assert.deepEqual(f.hashes.map(hex), t.frontier.hashes.map(hex));
  assert.equal(frontierIndexes(70).length, 3);
  const more = appendToFrontier(f, [leafHash(new Uint8Array([1]))]);
  assert.equal(hex(more.root), hex(naiveRoot([...t.leaves, leafHash(new Uint8Array([1]))])));
});

test('every inclusion proof of every tree up to 70 leaves equals the RFC algorithm, verifies, and fails when tampered', async () => {
  const t = treeOf(70);
  for (let size = 1; size <= 70; size++) {
    const rootHash = naiveRoot(t.leaves.slice(0, size));
    assert.equal(hex(await treeHash(size, t)), hex(rootHash), `root of size ${size}`);
    for (let index = 0; index < size; index++) {
      const leaf = t.leaves[index] as Uint8Array;
      const proof = await proveRecord(size, index, t);
      assert.deepEqual(proof.map(hex), naivePath(index, t.leaves.slice(0, size)).map(hex), `path ${index}/${size}`);
      checkRecord(proof, size, rootHash, index, leaf);
      // Every single-bit change of every proof hash is caught.
      for (let i = 0; i < proof.length; i++) {
        const bad = proof.map((h, j) => (j === i ? flipBit(h, (index + size) % 32, 1) : h));
        throwsCode(() => checkRecord(bad, size, rootHash, index, leaf), 'log_proof_invalid');
      }
      throwsCode(() => checkRecord(proof, size, rootHash, index, leafHash(new Uint8Array([9, 9]))), 'log_proof_invalid', /leads to root/);
      if (proof.length > 0) throwsCode(() => checkRecord(proof.slice(1), size, rootHash, index, leaf), 'log_proof_invalid');
      throwsCode(() => checkRecord([...proof, rootHash], size, rootHash, index, leaf), 'log_proof_invalid', /too many/);
      if (index + 1 < size) throwsCode(() => checkRecord(proof, size, rootHash, index + 1, leaf), 'log_proof_invalid');
    }
  }
});

test('every consistency proof between trees up to 70 leaves equals the RFC algorithm, verifies, and fails when tampered', async () => {
  const t = treeOf(70);
  const roots = Array.from({ length: 71 }, (_, n) => naiveRoot(t.leaves.slice(0, n)));
  for (let size = 1; size <= 70; size++) {
    const r = roots[size] as Uint8Array;
    for (let oldSize = 1; oldSize <= size; oldSize++) {
      const old = roots[oldSize] as Uint8Array;
      const proof = await proveTree(size, oldSize, t);
      const expected = oldSize === size ? [] : naiveSubproof(oldSize, t.leaves.slice(0, size), true);
      assert.deepEqual(proof.map(hex), expected.map(hex), `${oldSize} -> ${size}`);
      checkTree(proof, size, r, oldSize, old);
      for (let i = 0; i < proof.length; i++) {
        const bad = proof.map((h, j) => (j === i ? flipBit(h, oldSize % 32, 0x80) : h));
        throwsCode(() => checkTree(bad, size, r, oldSize, old), 'log_proof_invalid');
      }
      // A forked history: the old tree with a different last leaf is not a prefix of this one.
      const forkedOld = naiveRoot([...t.leaves.slice(0, oldSize - 1), leafHash(new Uint8Array([0xff]))]);
      throwsCode(() => checkTree(proof, size, r, oldSize, forkedOld), 'log_proof_invalid');
      if (oldSize < size) {
        throwsCode(() => checkTree(proof, size, roots[size - 1] as Uint8Array, oldSize, old), 'log_proof_invalid');
        throwsCode(() => checkTree([...proof, r], size, r, oldSize, old), 'log_proof_invalid');
        throwsCode(() => checkTree(proof.slice(0, -1), size, r, oldSize, old), 'log_proof_invalid');
      }
    }
  }
});

test('the edges: empty trees, equal sizes, and out-of-range arguments are typed errors', async () => {
  const t = treeOf(5);
  assert.deepEqual(await proveTree(5, 0, t), []);
  checkTree([], 5, await treeHash(5, t), 0, EMPTY_TREE_HASH);
  throwsCode(() => checkTree([EMPTY_TREE_HASH], 5, EMPTY_TREE_HASH, 0, EMPTY_TREE_HASH), 'log_proof_invalid', /must be empty/);
  // A checkpoint of size 0 names the one empty root (RFC 9162 §2.1.1), whatever it is compared with.
  const five = await treeHash(5, t);
  throwsCode(() => checkTree([], 5, five, 0, root(1)), 'log_proof_invalid', /root of the empty tree is/);
  throwsCode(() => checkTree([], 0, root(1), 0, root(1)), 'log_proof_invalid', /root of the empty tree is/);
  checkTree([], 0, EMPTY_TREE_HASH, 0, EMPTY_TREE_HASH);
  throwsCode(() => checkTree([], 5, root(5), 5, root(4)), 'log_proof_invalid', /two different roots for tree size 5/);
  throwsCode(() => checkTree([], 5, root(5), 3, root(3)), 'log_proof_invalid', /is empty/);
  throwsCode(() => checkTree([], 3, root(3), 5, root(5)), 'log_proof_invalid', /larger/);
  throwsCode(() => checkRecord([], 0, EMPTY_TREE_HASH, 0, root(1)), 'log_proof_invalid', /not in a tree of size 0/);
  throwsCode(() => checkRecord([new Uint8Array(31)], 2, root(2), 0, root(1)), 'invalid_log_data', /31 bytes/);
  await assert.rejects(proveRecord(5, 5, t), (e: unknown) => isEnclaveError(e, 'invalid_log_data'));
  await assert.rejects(proveRecord(5, -1, t), (e: unknown) => isEnclaveError(e, 'invalid_log_data'));
  await assert.rejects(proveTree(3, 4, t), (e: unknown) => isEnclaveError(e, 'invalid_log_data'));
  await assert.rejects(treeHash(1.5, t), (e: unknown) => isEnclaveError(e, 'invalid_log_data'));
  throwsCode(() => appendToFrontier({ size: 3, hashes: [root(1)] }, []), 'invalid_log_data', /has 2 hashes, not 1/);
  assert.equal(hex(frontierRoot(EMPTY_FRONTIER)), CT_ROOTS[0]);
});

test('large sizes stay exact (no 32-bit truncation): indexes and proof shapes past 2^32 leaves', () => {
  const size = 2 ** 40 + 3;
  assert.deepEqual(splitStoredHashIndex(storedHashIndex(0, size - 1)), { level: 0, n: size - 1 });
  assert.deepEqual(splitStoredHashIndex(storedHashIndex(40, 0)), { level: 40, n: 0 });
  assert.equal(storedHashCount(2 ** 33), storedHashIndex(33, 0) + 1);
});
