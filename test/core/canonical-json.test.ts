// Canonical JSON (RFC 8785): equal values give equal bytes, whatever the order their members were built in.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalJson, type JsonValue } from '../../src/core/canonical-json.ts';

void describe('canonicalJson', () => {
  void it('sorts members by UTF-16 code units (RFC 8785 section 3.2.3 example)', () => {
    const input = { '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' };
    // Read the member names off the text: JavaScript objects would put "1" first whatever the text says.
    const names = [...canonicalJson(input).matchAll(/"((?:[^"\\]|\\.)*)":/g)].map((m) => JSON.parse(`"${m[1] ?? ''}"`) as string);
    assert.deepEqual(names, ['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33']);
  });

  void it('serializes numbers as ECMAScript does (RFC 8785 section 3.2.2.3) and has no whitespace', () => {
    assert.equal(canonicalJson([1e21, 1e-7, 0.000001, -0, 333333333.3333333, 1e23, 5e-324]), '[1e+21,1e-7,0.000001,0,333333333.3333333,1e+23,5e-324]');
    assert.equal(canonicalJson({ b: [true, null], a: { d: 'x', c: 'é"\n' } }), '{"a":{"c":"é\\"\\n","d":"x"},"b":[true,null]}');
  });

  void it('refuses NaN and Infinity instead of writing null', () => {
    assert.throws(() => canonicalJson({ a: Number.NaN }), RangeError);
    assert.throws(() => canonicalJson([Number.POSITIVE_INFINITY]), RangeError);
  });

  void it('property: parses back to the same value, and member order never changes the bytes', () => {
    const reversed = (v: JsonValue): JsonValue => {
      if (Array.isArray(v)) return (v as JsonValue[]).map(reversed);
      if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reversed(x)]));
      return v;
    };
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const value = JSON.parse(JSON.stringify(v)) as JsonValue; // -0 becomes 0, as JSON has it
        const text = canonicalJson(value);
        assert.deepEqual(JSON.parse(text), value);
        assert.equal(canonicalJson(reversed(value)), text);
        assert.equal(canonicalJson(JSON.parse(text) as JsonValue), text, 'idempotent');
      }),
      { numRuns: 300 },
    );
  });
});
