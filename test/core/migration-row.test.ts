// From a legacy row to a record: strict conversions by field type, deterministic ids and keys, and the
// canonical form the digests cover (the fast writer must equal the general RFC 8785 serializer).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalJson, type JsonValue } from '../../src/core/canonical-json.ts';
import type { FieldDef } from '../../src/core/config.ts';
import { parseCountryExpr } from '../../src/core/country-expression.ts';
import { EnclaveError } from '../../src/core/errors.ts';
import type { ResolvedTable } from '../../src/core/migration-mapping.ts';
import { canonicalRecord, convertValue, countryOf, decodeKey, encodeKey, keyOf, recordIdOf, showKey, type MappedRecord } from '../../src/core/migration-row.ts';
import { RECORD_ID_PATTERN } from '../../src/core/api-ids.ts';

const field = (type: FieldDef['type'], required = true): FieldDef => ({ name: 'f', type, class: 'protected', required, maxLength: undefined });
const refused = (err: unknown) => err instanceof EnclaveError && err.code === 'invalid_field' && err.details?.field === 'f' && !/secret/.test(err.message);

void describe('convertValue', () => {
  void it('converts what fits the field type and refuses the rest, naming the field but never the value', () => {
    const ok: [FieldDef['type'], unknown, unknown][] = [
      ['string', 'secret', 'secret'],
      ['string', 42, '42'],
      ['string', 9007199254740993n, '9007199254740993'],
      ['integer', 7, 7],
      ['integer', '-12', -12],
      ['integer', 5n, 5],
      ['number', '4.25', 4.25],
      ['number', 3, 3],
      // Decimal text and big integers a double holds exactly, however spelt.
      ['number', '1.50', 1.5],
      ['number', '0.1', 0.1],
      ['number', '-1.5e-7', -1.5e-7],
      ['number', '000120.00', 120],
      ['number', 2n ** 60n, 2 ** 60],
      ['boolean', true, true],
      ['boolean', 0, false],
      ['boolean', 1n, true],
      ['timestamp', '2024-05-01T10:00:00Z', '2024-05-01T10:00:00Z'],
      ['timestamp', '2024-05-01 10:00:00', '2024-05-01T10:00:00Z'],
      ['timestamp', '2024-05-01 10:00', '2024-05-01T10:00:00Z'],
      ['timestamp', '2024-05-01 10:00:00.125', '2024-05-01T10:00:00.125Z'],
    ];
    for (const [type, v, want] of ok) assert.deepEqual(convertValue(field(type), v as never), want, `${type} ${String(v)}`);
    assert.equal(convertValue(field('string', false), null), null);
    const bad: [FieldDef['type'], unknown][] = [
      ['string', null],
      ['string', true],
      ['string', Buffer.from('secret')],
      ['integer', 1.5],
      ['integer', 'secret'],
      ['integer', 9007199254740993n],
      ['number', 'NaN'],
      ['number', 'secret'],
      // What a double would round (a PostgreSQL numeric, a MySQL DECIMAL, a 64-bit integer): verify
      // compares converted records, so a rounded copy would pass it and the purge delete the exact one.
      ['number', 9007199254740993n],
      ['number', '9007199254740993'],
      ['number', '0.1000000000000000000001'],
      ['number', '123456789.123456789123'],
      ['boolean', 2],
      ['boolean', 'true'],
      ['timestamp', 1714557600],
    ];
    for (const [type, v] of bad) assert.throws(() => convertValue(field(type), v as never), refused, `${type} ${String(v)}`);
  });
});

void describe('keys and record ids', () => {
  const table = (recordId: 'key' | 'hash', key: string[]) => ({ table: 'msgs$1', recordId, key }) as unknown as ResolvedTable;

  void it('keys encode to canonical JSON and back; integers beyond 2^53 keep their digits', () => {
    assert.equal(encodeKey([1, 'a']), '[1,"a"]');
    assert.equal(encodeKey([9007199254740993n]), '["9007199254740993"]');
    assert.deepEqual(decodeKey(encodeKey([7, 'x', -3])), [7, 'x', -3]);
    for (const one of [[-42], ['日本 "q" \\ 🎉'], [''], [2 ** 53 - 1]]) assert.equal(encodeKey(one), canonicalJson(one), 'one column, as the general form');
    assert.throws(() => encodeKey(['a\ud800']), (e: unknown) => e instanceof EnclaveError && /lone UTF-16 surrogate/.test(e.message));
    assert.equal(showKey(['a']), '"a"');
    assert.equal(showKey([7, 'x']), '(7, "x")');
    assert.deepEqual(keyOf({ a: 1, b: 'z' }, ['a', 'b'], 't'), [1, 'z']);
    assert.throws(() => keyOf({ a: null }, ['a'], 't'), (e: unknown) => e instanceof EnclaveError && e.code === 'invalid_source_data' && /key column "a" holds null/.test(e.message));
    assert.throws(() => keyOf({ a: 1.5 }, ['a'], 't'), (e: unknown) => e instanceof EnclaveError && e.code === 'invalid_source_data');
  });

  void it('record ids are the key, or a hash of mapping, table and key; always valid and deterministic', () => {
    assert.equal(recordIdOf('m', table('key', ['id']), ['u-1']), 'u-1');
    assert.equal(recordIdOf('m', table('key', ['id']), [42]), '42');
    assert.throws(() => recordIdOf('m', table('key', ['id']), ['has space']), (e: unknown) => e instanceof EnclaveError && e.code === 'invalid_request' && /use record_id: hash/.test(e.message));
    const a = recordIdOf('m', table('hash', ['a', 'b']), [1, 'has space']);
    assert.match(a, new RegExp(RECORD_ID_PATTERN));
    assert.match(a, /^msgs_1-[0-9a-f]{40}$/);
    assert.equal(recordIdOf('m', table('hash', ['a', 'b']), [1, 'has space']), a);
    assert.notEqual(recordIdOf('other', table('hash', ['a', 'b']), [1, 'has space']), a, 'another migration, another id');
  });

  void it('countries: expression, then the map, then an ISO code or why not', () => {
    const rule = { expr: parseCountryExpr('upper(trim(c))', 'x'), map: new Map([['UK', 'GB']]) };
    assert.deepEqual(countryOf(rule, { c: ' us ' }), { country: 'US' });
    assert.deepEqual(countryOf(rule, { c: 'uk' }), { country: 'GB' });
    assert.deepEqual(countryOf(rule, { c: null }), { reason: 'no_country' });
    assert.deepEqual(countryOf(rule, { c: '  ' }), { reason: 'no_country' });
    assert.deepEqual(countryOf(rule, { c: 'USA' }), { reason: 'invalid_country' });
  });
});

void describe('canonicalRecord', () => {
  void it('property: equals the RFC 8785 serialization of the same record', () => {
    const value = fc.oneof(fc.string(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null));
    fc.assert(
      fc.property(
        fc.string(),
        fc.array(fc.oneof(fc.string(), fc.integer()), { minLength: 1, maxLength: 3 }),
        fc.dictionary(fc.string({ minLength: 1 }), value),
        fc.string(),
        fc.string(),
        (table, key, data, id, subject) => {
          const r: MappedRecord = { collection: 'c', id, subject, data };
          const general = canonicalJson({ table, key: key as JsonValue, collection: r.collection, id, subject, data: data as JsonValue });
          assert.equal(canonicalRecord(table, key, r), general);
        },
      ),
      { numRuns: 300 },
    );
  });
});
