// Root-key sharing: any k of n shares reconstruct the root, fewer do not, and malformed share text is
// invalid_share (never a crash or a silent misreading).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { EnclaveError } from '../../src/core/errors.ts';
import { rootCheck, rootCheckMatches } from '../../src/crypto/key-derivation.ts';
import { combineShares, decodeShare, encodeShare, shareFingerprint, splitSecret } from '../../src/crypto/shamir-shares.ts';

const PREFIX = 'enclave-share-v1-';
const isInvalidShare = (err: unknown) => err instanceof EnclaveError && err.code === 'invalid_share';

void describe('Shamir shares of the root key', () => {
  void it('wipes its copies of the root key and of the shares without touching the caller\'s root or another share', async () => {
    const root = randomBytes(32);
    const before = Buffer.from(root);
    const shares = await splitSecret(root, 3, 2);
    assert.deepEqual(root, before, 'the caller wipes its own root');
    // Decoded shares sit side by side in one pooled buffer: wiping one leaves its neighbours intact.
    const [a, b] = [decodeShare(shares[0] ?? ''), decodeShare(shares[1] ?? '')];
    a.fill(0);
    assert.equal(encodeShare(b), shares[1]);
    assert.deepEqual(Buffer.from(await combineShares(shares.slice(1))), before);
    assert.equal(shareFingerprint(shares[2] ?? ''), shareFingerprint(shares[2] ?? ''), 'fingerprinting wipes only its own decoding');
    assert.ok(rootCheckMatches(root, rootCheck(root)));
  });

  void it('any k of n shares, in any order, reconstruct the root', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 7 }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 2, max: n }))),
        fc.infiniteStream(fc.nat()),
        async ([n, k], picks) => {
          const root = randomBytes(32);
          const shares = await splitSecret(root, n, k);
          assert.equal(shares.length, n);
          assert.equal(new Set(shares).size, n);
          // A random choice of at least k distinct shares, shuffled.
          const pool = [...shares];
          const chosen: string[] = [];
          const iter = picks[Symbol.iterator]();
          const want = k + ((iter.next().value ?? 0) % (n - k + 1));
          while (chosen.length < want) {
            const i = (iter.next().value ?? 0) % pool.length;
            chosen.push(...pool.splice(i, 1));
          }
          const back = await combineShares(chosen);
          assert.deepEqual(Buffer.from(back), root);
          assert.equal(rootCheckMatches(back, rootCheck(root)), true);
        },
      ),
      { numRuns: 60 },
    );
  });

  void it('k-1 shares do not reconstruct the root (the check value does not match)', async () => {
    for (const [n, k] of [[3, 3], [5, 3], [5, 4], [7, 5]] as const) {
      const root = randomBytes(32);
      const check = rootCheck(root);
      const shares = await splitSecret(root, n, k);
      for (let start = 0; start + k - 1 <= n; start++) {
        const partial = await combineShares(shares.slice(start, start + k - 1));
        assert.equal(rootCheckMatches(partial, check), false, `${k - 1} of ${n} shares starting at ${start}`);
        assert.notDeepEqual(Buffer.from(partial), root);
      }
    }
  });

  void it('shares are printed as enclave-share-v1-<base64url of 33 bytes>', async () => {
    const shares = await splitSecret(randomBytes(32), 3, 2);
    for (const s of shares) {
      assert.match(s, /^enclave-share-v1-[A-Za-z0-9_-]{44}$/);
      assert.equal(decodeShare(s).length, 33);
      assert.equal(encodeShare(decodeShare(s)), s);
    }
  });

  void it('a share read back with surrounding whitespace is the same share', async () => {
    const [s] = await splitSecret(randomBytes(32), 2, 2);
    assert.ok(s);
    assert.deepEqual(decodeShare(`  ${s}\n`), decodeShare(s));
    assert.equal(shareFingerprint(`\t${s} `), shareFingerprint(s));
  });

  void it('fingerprints are stable per share and distinct between shares', async () => {
    const shares = await splitSecret(randomBytes(32), 5, 3);
    const fps = shares.map(shareFingerprint);
    assert.equal(new Set(fps).size, 5);
    assert.deepEqual(shares.map(shareFingerprint), fps);
    for (const fp of fps) assert.match(fp, /^[0-9a-f]{64}$/);
  });

  void it('malformed share text is invalid_share', async () => {
    const [good] = await splitSecret(randomBytes(32), 2, 2);
    assert.ok(good);
    const body = good.slice(PREFIX.length);
    const bad = [
      '',
      '   ',
      'enclave-share-v1-',
      body,
      `enclave-share-v2-${body}`,
      `ENCLAVE-SHARE-V1-${body}`,
      `${PREFIX}${body.slice(0, -1)}`, // 32.x bytes
      `${PREFIX}${body}AAAA`, // 36 bytes
      `${PREFIX}${body.slice(0, 20)} ${body.slice(20)}`,
      `${PREFIX}${body.slice(0, -1)}+`,
      `${PREFIX}${body.slice(0, -1)}/`,
      `${PREFIX}${body}=`,
      `${PREFIX}${Buffer.alloc(32).toString('base64url')}`,
      `${PREFIX}${body}A`, // a typo tacked on: Node's decoder would drop it silently
      `${PREFIX}${body}x`,
    ];
    for (const s of bad) {
      assert.throws(() => decodeShare(s), isInvalidShare, JSON.stringify(s));
      assert.throws(() => shareFingerprint(s), isInvalidShare, JSON.stringify(s));
    }
  });

  void it('property: any text either decodes to 33 bytes or is invalid_share', () => {
    const text = fc.oneof(fc.string(), fc.string().map((s) => PREFIX + s), fc.base64String().map((s) => PREFIX + s), fc.uint8Array({ minLength: 30, maxLength: 36 }).map((b) => PREFIX + Buffer.from(b).toString('base64url')));
    fc.assert(
      fc.property(text, (s) => {
        try {
          assert.equal(decodeShare(s).length, 33);
        } catch (err) {
          assert.ok(isInvalidShare(err), String(err));
        }
      }),
      { numRuns: 1000 },
    );
  });
});
