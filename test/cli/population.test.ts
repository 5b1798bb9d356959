// The demo's synthetic population: deterministic for a seed, valid against the starter configuration's
// collections, and spread over the us and eu jurisdictions and countries outside both.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Population } from '../../src/cli/demo/population.ts';
import { mulberry32, weighted } from '../../src/cli/demo/prng.ts';
import { RECORD_ID_PATTERN } from '../../src/core/api-ids.ts';
import { validateRecordData } from '../../src/core/record-model.ts';
import { parseConfigText } from '../../src/services/config-loader.ts';
import { starterConfig } from '../../src/services/starter-config.ts';

const config = parseConfigText(starterConfig(), 'starter', '/tmp');

describe('Population', () => {
  it('is deterministic: the same seed gives the same people, another seed other people', () => {
    const a = new Population(7, 500);
    const b = new Population(7, 500);
    const c = new Population(8, 500);
    for (const i of [0, 1, 250, 499]) assert.deepEqual(a.user(i), b.user(i));
    assert.notDeepEqual([0, 1, 2, 3].map((i) => a.user(i)), [0, 1, 2, 3].map((i) => c.user(i)));
  });

  it('a user comes out the same alone or in a sequence (batches do not change the data)', () => {
    const p = new Population(3, 100);
    const sequence = Array.from({ length: 100 }, (_, i) => p.user(i));
    assert.deepEqual(new Population(3, 100).user(42), sequence[42]);
    assert.equal(p.countryOf(42), sequence[42]?.country);
  });

  it('every record is valid for its collection in the starter configuration and names its user as subject', () => {
    const p = new Population(1, 300);
    const idPattern = new RegExp(RECORD_ID_PATTERN);
    const seen = new Set<string>();
    const collections = new Set<string>();
    for (let i = 0; i < p.size; i++) {
      const user = p.user(i);
      assert.match(user.id, idPattern);
      for (const r of user.records) {
        const c = config.collections.get(r.collection);
        assert.ok(c, `unknown collection ${r.collection}`);
        validateRecordData(c, r.data);
        assert.equal(r.data[c.subjectField], user.id);
        assert.match(r.id, idPattern);
        const key = `${r.collection}/${r.id}`;
        assert.ok(!seen.has(key), `duplicate record ${key}`);
        seen.add(key);
        collections.add(r.collection);
      }
    }
    assert.deepEqual([...collections].sort(), [...config.collections.keys()].sort());
  });

  it('spreads users over the US, the EU and countries in no jurisdiction', () => {
    const p = new Population(1, 2000);
    const by = new Map<string, number>();
    for (let i = 0; i < p.size; i++) {
      const j = config.countryIndex.get(p.countryOf(i)) ?? 'none';
      by.set(j, (by.get(j) ?? 0) + 1);
    }
    // Weights are 41% US, 30% EU, 29% elsewhere; allow generous sampling noise.
    assert.ok((by.get('us') ?? 0) > 700 && (by.get('us') ?? 0) < 950, `us: ${by.get('us')}`);
    assert.ok((by.get('eu') ?? 0) > 480 && (by.get('eu') ?? 0) < 720, `eu: ${by.get('eu')}`);
    assert.ok((by.get('none') ?? 0) > 460 && (by.get('none') ?? 0) < 700, `none: ${by.get('none')}`);
  });

  it('refuses an empty population and out-of-range users', () => {
    assert.throws(() => new Population(1, 0), RangeError);
    assert.throws(() => new Population(1, 10).user(10), RangeError);
  });
});

describe('prng', () => {
  it('mulberry32 is uniform enough and reproducible', () => {
    const a = mulberry32(99);
    const b = mulberry32(99);
    const xs = Array.from({ length: 10_000 }, () => a());
    assert.deepEqual(xs.slice(0, 5), Array.from({ length: 5 }, () => b()));
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    assert.ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
  });

  it('weighted picks follow the weights', () => {
    const rng = mulberry32(5);
    let heavy = 0;
    for (let i = 0; i < 10_000; i++) if (weighted(rng, [['heavy', 9], ['light', 1]] as const) === 'heavy') heavy++;
    assert.ok(heavy > 8700 && heavy < 9300, `heavy: ${heavy}`);
  });
});
