// A result printed as its list arrives (Output.resultList: verify's mismatches, read page by page): with
// --json the very text that printing the whole object at once gives, whatever the head, the items and
// how they are cut into parts; for people, the head's text, each part's and the tail's, in order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Io } from '../../src/cli/io.ts';
import { Output } from '../../src/cli/output.ts';

function capture(): { io: Io; text: () => string } {
  let text = '';
  const stdout = { write: (s: string) => ((text += s), true) };
  return { io: { stdout, stderr: stdout, stdin: process.stdin } as unknown as Io, text: () => text };
}

const head = fc.dictionary(fc.string().filter((k) => k !== 'mismatchList'), fc.jsonValue(), { maxKeys: 5 });
const parts = fc.array(fc.array(fc.jsonValue(), { maxLength: 4 }), { maxLength: 4 });

test('with --json, the text printed part by part is the text of the whole result', () => {
  fc.assert(
    fc.property(head, parts, (h, ps) => {
      const whole = capture();
      new Output(whole.io, { json: true }).result({ ...h, mismatchList: ps.flat() }, () => '');
      const streamed = capture();
      const list = new Output(streamed.io, { json: true }).resultList<unknown>(h, 'mismatchList', 'unused', () => 'unused');
      for (const p of ps) list.add(p);
      list.end('unused');
      assert.equal(streamed.text(), whole.text());
      assert.deepEqual(JSON.parse(streamed.text()), JSON.parse(whole.text()));
    }),
  );
});

test('for people, the head, each part that holds something, then the tail, each escaped as any output', () => {
  const c = capture();
  const list = new Output(c.io).resultList<string>({ ignored: true }, 'mismatchList', 'Head', (p) => p.join(' | '));
  list.add(['a', 'b']);
  list.add([]);
  list.add(['\u001b]52;c;x']);
  list.end('\nTail');
  assert.equal(c.text(), 'Head\na | b\n\\u001b]52;c;x\n\nTail\n');
});
