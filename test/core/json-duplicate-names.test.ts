import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { duplicateName } from '../../src/core/json-duplicate-names.ts';

const params = { numRuns: 300, seed: Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31) };

void describe('duplicate member names in JSON text', () => {
  void it('finds a name given twice in one object, at the top or nested, however it is escaped', () => {
    assert.deepEqual(duplicateName('{"email":"a@x","email":"b@x"}'), { name: 'email', depth: 1 });
    assert.deepEqual(duplicateName('{"a":1,"\\u0061":2}'), { name: 'a', depth: 1 });
    assert.deepEqual(duplicateName('{"x":[{"k":1},{"k":2,"k":3}]}'), { name: 'k', depth: 3 });
    // The same name in sibling objects, as a value, or inside a string is no duplicate.
    assert.equal(duplicateName('{"k":"k","o":{"k":1},"p":{"k":2},"s":"{\\"k\\":1,\\"k\\":2}"}'), undefined);
    assert.equal(duplicateName('[{"k":1},{"k":1}]'), undefined);
    assert.equal(duplicateName('{}'), undefined);
  });

  void it('property: text JSON.stringify made never has one; the same text with a member repeated always does', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), { minKeys: 1 }), (o) => {
        const text = JSON.stringify(o);
        assert.equal(duplicateName(text), undefined);
        const [first] = Object.keys(o);
        const again = `${text.slice(0, -1)},${JSON.stringify(first)}:null}`;
        assert.deepEqual(duplicateName(again), { name: first, depth: 1 });
      }),
      params,
    );
  });
});
