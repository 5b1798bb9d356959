// The streaming Merkle Tree Hash against RFC 6962/9162's reference roots and against the definition.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MerkleBuilder, merkleRoot } from '../../src/core/migration-merkle.ts';
import { EMPTY_TREE_HASH, leafHash, nodeHash } from '../../src/core/tlog/merkle.ts';

// The Certificate Transparency reference leaves and the roots of their first 0..8 (RFC 6962 test data).
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => Buffer.from(h, 'hex'));
const ROOTS = [
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

/** RFC 9162 section 2.1.1, literally: split at the largest power of two below n. */
function definition(leaves: readonly Uint8Array[]): Buffer {
  if (leaves.length === 0) return createHash('sha256').digest();
  if (leaves.length === 1) return Buffer.from(leafHash(leaves[0] ?? new Uint8Array()));
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return Buffer.from(nodeHash(definition(leaves.slice(0, k)), definition(leaves.slice(k))));
}

void describe('Merkle Tree Hash (RFC 9162 section 2.1.1)', () => {
  void it('gives the reference roots for 0 to 8 leaves', () => {
    assert.equal(Buffer.from(EMPTY_TREE_HASH).toString('hex'), ROOTS[0]);
    for (let n = 0; n <= LEAVES.length; n++) assert.equal(merkleRoot(LEAVES.slice(0, n)).toString('hex'), ROOTS[n], `${n} leaves`);
  });

  void it('property: the streaming builder equals the recursive definition, for any leaves', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 2100 }), (leaves) => {
        const b = new MerkleBuilder();
        leaves.forEach((l, i) => {
          b.add(l);
          assert.equal(b.size, i + 1);
        });
        assert.deepEqual(b.root(), definition(leaves));
      }),
      { numRuns: 60 },
    );
  });

  void it('any change to a leaf, their order or their number changes the root', () => {
    const leaves = Array.from({ length: 13 }, (_, i) => Buffer.from([i]));
    const root = merkleRoot(leaves).toString('hex');
    assert.notEqual(merkleRoot([...leaves.slice(0, 5), Buffer.from([99]), ...leaves.slice(6)]).toString('hex'), root);
    assert.notEqual(merkleRoot([leaves[1] ?? Buffer.alloc(0), leaves[0] ?? Buffer.alloc(0), ...leaves.slice(2)]).toString('hex'), root);
    assert.notEqual(merkleRoot(leaves.slice(0, 12)).toString('hex'), root);
  });
});
