import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatRfc3339, parseRfc3339 } from '../../src/core/rfc3339.ts';

const params = { numRuns: 500, seed: Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31) };

void describe('RFC 3339 date-times', () => {
  void it('reads the forms of RFC 3339 §5.6, offsets and fractions included', () => {
    assert.equal(parseRfc3339('2026-03-01T00:00:00Z'), Date.UTC(2026, 2, 1));
    assert.equal(parseRfc3339('2026-03-01t00:00:00.250z'), Date.UTC(2026, 2, 1, 0, 0, 0, 250));
    assert.equal(parseRfc3339('2026-03-01T02:30:00+02:30'), Date.UTC(2026, 2, 1));
    assert.equal(parseRfc3339('2024-02-29T12:00:00Z'), Date.UTC(2024, 1, 29, 12));
    // Years 0-99 are those years, not 1900-1999 (year 0 is a leap year in the proleptic Gregorian calendar).
    assert.equal(parseRfc3339('0000-02-29T00:00:00Z'), Date.parse('0000-02-29T00:00:00Z'));
    assert.equal(parseRfc3339('0001-02-29T00:00:00Z'), undefined);
  });

  void it('refuses dates that do not exist, which Date.parse rolls over, and forms RFC 3339 lacks', () => {
    for (const text of ['2026-02-29T00:00:00Z', '2026-02-30T00:00:00Z', '2026-04-31T00:00:00Z', '2026-13-01T00:00:00Z', '2026-00-10T00:00:00Z', '2026-01-00T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T23:60:00Z', '2026-01-01T23:59:60Z', '2026-01-01T00:00:00+24:00', '2026-01-01 10:00:00Z', '2026-01-01T10:00Z', '2026-01-01', 'yesterday', '']) {
      assert.equal(parseRfc3339(text), undefined, text);
    }
  });

  void it('property: every instant written as toISOString() reads back to itself; every answer is a date the text names', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date(Date.UTC(1, 0, 1)), max: new Date(Date.UTC(9999, 11, 31)), noInvalidDate: true }), (d) => {
        assert.equal(parseRfc3339(d.toISOString()), d.getTime());
      }),
      params,
    );
    fc.assert(
      fc.property(fc.integer({ min: 1970, max: 2100 }), fc.integer({ min: 0, max: 14 }), fc.integer({ min: 0, max: 33 }), (y, m, d) => {
        const text = `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}T00:00:00Z`;
        const ms = parseRfc3339(text);
        if (ms !== undefined) assert.equal(new Date(ms).toISOString().slice(0, 10), text.slice(0, 10), 'no roll-over');
      }),
      params,
    );
  });

  void it('formats exactly as toISOString: at day, hour and second edges, outside four-digit years, and for any instant', () => {
    const day = 86_400_000;
    const edges = [0, 1, 9, 10, 99, 100, 999, 1000, day - 1, day, Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2026, 10, 25, 3, 7, 9, 5), Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(10000, 0, 1), -1, -day - 1, Date.UTC(-5, 0, 1), 8.64e15, -8.64e15, 1234.9];
    for (const ms of edges) assert.equal(formatRfc3339(ms), new Date(ms).toISOString(), String(ms));
    assert.throws(() => formatRfc3339(Number.NaN), RangeError, 'an invalid time is refused as toISOString refuses it');
    // Alternating days and far-apart instants: the cached day never leaks into another's.
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -8.64e15, max: 8.64e15 - 3 * day }), { minLength: 1, maxLength: 20 }), fc.integer({ min: 0, max: 3 * day }), (list, near) => {
        for (const ms of list) {
          assert.equal(formatRfc3339(ms), new Date(ms).toISOString());
          assert.equal(formatRfc3339(ms + near), new Date(ms + near).toISOString());
        }
      }),
      params,
    );
  });
});
