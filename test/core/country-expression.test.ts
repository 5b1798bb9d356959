// The mapping's country expressions: parsed into a tree, evaluated over the row; never run as SQL or code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { EnclaveError } from '../../src/core/errors.ts';
import { EXPR_FUNCTIONS, evaluateCountryExpr, exprColumns, formatCountryExpr, parseCountryExpr, type CountryExpr, type ExprFunction } from '../../src/core/country-expression.ts';

const evalText = (text: string, row: Record<string, string | number | null>) => evaluateCountryExpr(parseCountryExpr(text, 'expr'), row);
const isMapping = (pattern?: RegExp) => (err: unknown) => err instanceof EnclaveError && err.code === 'invalid_mapping' && (pattern === undefined || pattern.test(err.message));

void describe('country expressions', () => {
  void it('evaluates columns, literals and the functions, null in and null out', () => {
    const row = { res: ' us ', bill: 'de', none: null, code: 'USA', n: 42 };
    assert.equal(evalText('upper(trim(res))', row), 'US');
    assert.equal(evalText('coalesce(none, bill)', row), 'de');
    assert.equal(evalText('upper(coalesce(none, none, "bill"))', row), 'DE');
    assert.equal(evalText('substr(code, 1, 2)', row), 'US');
    assert.equal(evalText('substr(code, 2)', row), 'SA');
    // Negative starts count from the end, as in SQLite and MySQL.
    assert.equal(evalText('substr(code, -2)', row), 'SA');
    assert.equal(evalText('substr(code, -3, 2)', row), 'US');
    assert.equal(evalText("substr('en-DE', -2)", row), 'DE');
    assert.equal(evalText('substr(code, -5, 3)', row), 'U', 'a span starting before the text keeps what lies inside it');
    assert.equal(evalText('substr(code, 9)', row), '');
    assert.equal(evalText("nullif(bill, 'de')", row), null);
    assert.equal(evalText("concat('x', none, n)", row), 'x42');
    assert.equal(evalText('lower(none)', row), null);
    assert.equal(evalText("'it''s'", row), "it's");
    assert.equal(evalText('COALESCE(none, -7)', row), '-7');
    assert.deepEqual(exprColumns(parseCountryExpr('coalesce(a, upper(b), a, "c d")', 'x')), ['a', 'b', 'c d']);
  });

  void it('text that looks like SQL or code is only ever a value', () => {
    const row = { c: "US'); DROP TABLE users; --" };
    assert.equal(evalText("upper(c)", row), "US'); DROP TABLE USERS; --");
    assert.equal(evalText("'process.exit(1)'", row), 'process.exit(1)');
    assert.throws(() => parseCountryExpr('c; DROP TABLE users', 'x'), isMapping(/unexpected ";" at character 2/));
    assert.throws(() => parseCountryExpr('eval(c)', 'x'), isMapping(/unknown function "eval"/));
    assert.throws(() => parseCountryExpr('c || d', 'x'), isMapping());
    assert.throws(() => parseCountryExpr('`c`', 'x'), isMapping());
  });

  void it('refuses malformed expressions, saying where', () => {
    const cases: [string, RegExp][] = [
      ['', /the expression is empty/],
      ['upper(', /the expression ends too early/],
      ['upper(a', /missing "\)" after the arguments of upper/],
      ['upper(a b)', /expected "," or "\)" but found "b"/],
      ['upper(a, b)', /upper takes 1 argument\(s\), not 2/],
      ['coalesce()', /coalesce takes 1 to 16 argument\(s\), not 0/],
      ["substr(a, 'x')", /substr takes whole numbers/],
      ['substr(a, 0, 2)', /substr counts from 1 .* or from -1/],
      ['substr(a, 2, -1)', /substr takes a length of 0 or more/],
      ["'open", /unterminated string/],
      ['"', /unterminated quoted column name/],
      ['""', /empty column name/],
      ['a)', /unexpected "\)"/],
      ['9999999999', /unexpected "9"/],
      [`${'upper('.repeat(20)}a${')'.repeat(20)}`, /nested deeper than 16/],
      ['x'.repeat(1001), /longer than 1000 characters/],
      [`concat(${Array.from({ length: 16 }, () => 'coalesce(a,a,a,a,a,a,a,a,a,a,a,a,a,a,a)').join(',')})`, /more than 200 terms/],
    ];
    for (const [text, pattern] of cases) assert.throws(() => parseCountryExpr(text, 'subjects.country.expr'), isMapping(pattern), text);
    assert.throws(() => parseCountryExpr('upper(', 'subjects.country.expr'), isMapping(/^subjects\.country\.expr: /));
  });

  void it('property: any expression tree prints and parses back to itself', () => {
    const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_$]{0,8}$/);
    const leaf: fc.Arbitrary<CountryExpr> = fc.oneof(
      name.map((n): CountryExpr => ({ kind: 'column', name: n })),
      fc.string({ maxLength: 8 }).filter((s) => s !== '').map((n): CountryExpr => ({ kind: 'column', name: n })),
      fc.string({ maxLength: 10 }).map((v): CountryExpr => ({ kind: 'string', value: v })),
      fc.integer({ min: -999, max: 999 }).map((v): CountryExpr => ({ kind: 'integer', value: v })),
    );
    const tree = fc.letrec<{ e: CountryExpr }>((tie) => ({
      e: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.constantFrom(...(Object.keys(EXPR_FUNCTIONS) as ExprFunction[])).chain((fn) => {
          const { min, max } = EXPR_FUNCTIONS[fn];
          const args = fn === 'substr'
            ? fc.tuple(tie('e'), fc.array(fc.integer({ min: 1, max: 9 }).map((v): CountryExpr => ({ kind: 'integer', value: v })), { minLength: 1, maxLength: 2 })).map(([a, rest]) => [a, ...rest])
            : fc.array(tie('e'), { minLength: min, maxLength: Math.min(max, 3) });
          return args.map((a): CountryExpr => ({ kind: 'call', fn, args: a }));
        }),
      ),
    })).e;
    fc.assert(
      fc.property(tree, (e) => {
        const text = formatCountryExpr(e);
        if (text.length > 1000) return;
        assert.deepEqual(parseCountryExpr(text, 'x'), e);
      }),
      { numRuns: 300 },
    );
  });

  void it('property: any text either parses or is refused with invalid_mapping, never another error', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 60 }), fc.stringMatching(/^[a-z(),'" 0-9-]{0,40}$/)), (text) => {
        try {
          parseCountryExpr(text, 'x');
        } catch (err) {
          assert.ok(isMapping()(err), String(err));
        }
      }),
      { numRuns: 500 },
    );
  });
});
