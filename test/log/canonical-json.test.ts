// RFC 8785 (JCS): the RFC's own examples (§3.2.2 serialization, §3.2.3 sorting, Appendix B numbers) and
// properties: canonical text parses back to the same value and is a fixed point.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalJson, canonicalJsonBytes } from '../../src/core/canonical-json.ts';
import { isEnclaveError } from '../../src/core/errors.ts';

function fromIeeeHex(hex: string): number {
  const b = Buffer.from(hex.padStart(16, '0'), 'hex');
  return b.readDoubleBE(0);
}

void describe('canonical JSON (RFC 8785)', () => {
  void it('serializes the §3.2.2 example exactly', () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
    ) as unknown;
    assert.equal(
      canonicalJson(input),
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  void it('sorts members by UTF-16 code units (§3.2.3)', () => {
    const input = JSON.parse(
      '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control", "\\u00f6": "Latin Small Letter O With Diaeresis"}',
    ) as Record<string, string>;
    // U+1F600 is the surrogate pair D83D DE00, so it sorts before U+FB33 although its code point is larger.
    assert.equal(
      canonicalJson(input),
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  void it('formats the numbers of Appendix B', () => {
    const cases: [string, string][] = [
      ['0000000000000000', '0'],
      ['8000000000000000', '0'],
      ['0000000000000001', '5e-324'],
      ['8000000000000001', '-5e-324'],
      ['7fefffffffffffff', '1.7976931348623157e+308'],
      ['ffefffffffffffff', '-1.7976931348623157e+308'],
      ['4340000000000000', '9007199254740992'],
      ['c340000000000000', '-9007199254740992'],
      ['4430000000000000', '295147905179352830000'],
      ['44b52d02c7e14af5', '9.999999999999997e+22'],
      ['44b52d02c7e14af6', '1e+23'],
      ['44b52d02c7e14af7', '1.0000000000000001e+23'],
      ['444b1ae4d6e2ef4e', '999999999999999700000'],
      ['444b1ae4d6e2ef4f', '999999999999999900000'],
      ['444b1ae4d6e2ef50', '1e+21'],
      ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
      ['3eb0c6f7a0b5ed8d', '0.000001'],
      ['41b3de4355555553', '333333333.3333332'],
      ['41b3de4355555554', '333333333.33333325'],
      ['41b3de4355555555', '333333333.3333333'],
      ['41b3de4355555556', '333333333.3333334'],
      ['41b3de4355555557', '333333333.33333343'],
      ['becbf647612f3696', '-0.0000033333333333333333'],
      ['43143ff3c1cb0959', '1424953923781206.2'],
    ];
    for (const [hex, expected] of cases) assert.equal(canonicalJson(fromIeeeHex(hex)), expected, `IEEE ${hex}`);
  });

  void it('refuses NaN and the infinities (Appendix B: "error")', () => {
    for (const hex of ['7fffffffffffffff', '7ff0000000000000', 'fff0000000000000']) {
      assert.throws(() => canonicalJson({ n: fromIeeeHex(hex) }), (e) => isEnclaveError(e, 'invalid_request'));
    }
  });

  void it('refuses what I-JSON cannot carry: lone surrogates, undefined, functions, class instances', () => {
    for (const bad of ['\ud800', 'a\udc00b', { ['\udbff']: 1 }, { a: undefined }, [() => 1], new Date(0), new Map(), 10n]) {
      assert.throws(() => canonicalJson(bad), (e) => isEnclaveError(e, 'invalid_request'), `accepted ${String(bad as never)}`);
    }
  });

  void it('escapes only what §3.2.2.2 requires', () => {
    assert.equal(canonicalJson('\u0000\u0008\u0009\u000a\u000c\u000d\u001f\u007f/<>&\u2028'), '"\\u0000\\b\\t\\n\\f\\r\\u001f\u007f/<>&\u2028"');
    assert.deepEqual([...canonicalJsonBytes('é')], [0x22, 0xc3, 0xa9, 0x22]);
  });

  void it('round-trips: the canonical text parses to an equal value and is its own canonical form', () => {
    const json = fc.jsonValue({ maxDepth: 4 });
    fc.assert(
      fc.property(json, (v) => {
        const text = canonicalJson(v);
        const back = JSON.parse(text) as unknown;
        assert.equal(canonicalJson(back), text);
        // Member order of the input never matters.
        if (back !== null && typeof back === 'object' && !Array.isArray(back)) {
          const reversed = Object.fromEntries(Object.entries(back).reverse());
          assert.equal(canonicalJson(reversed), text);
        }
      }),
      { numRuns: 300 },
    );
  });

  void it('property: equals a plain reference serialization, whatever the member names (integer-like, __proto__, non-ASCII) and depth', () => {
    // The RFC's procedure spelled out naively: members sorted by code units, primitives as ECMAScript writes them.
    const reference = (v: unknown): string => {
      if (Array.isArray(v)) return `[${v.map(reference).join(',')}]`;
      if (v !== null && typeof v === 'object') {
        const keys = Object.keys(v).sort();
        return `{${keys.map((k) => `${JSON.stringify(k)}:${reference((v as Record<string, unknown>)[k])}`).join(',')}}`;
      }
      return JSON.stringify(v);
    };
    const key = fc.oneof(fc.string(), fc.constantFrom('__proto__', '0', '10', '9', '1a', 'é', '\ud83d\ude00', 'constructor'));
    const value = fc.letrec((tie) => ({
      any: fc.oneof({ depthSize: 'small' }, fc.string(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), tie('arr'), tie('obj')),
      arr: fc.array(tie('any'), { maxLength: 4 }),
      // Built with defineProperty semantics (fromEntries), so a "__proto__" name is an own member.
      obj: fc.array(fc.tuple(key, tie('any')), { maxLength: 5 }).map((entries) => Object.fromEntries(entries)),
    })).any;
    fc.assert(
      fc.property(value, (v) => {
        assert.equal(canonicalJson(v), reference(v));
      }),
      { numRuns: 500 },
    );
  });
});
