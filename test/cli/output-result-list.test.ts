// A result printed as its list arrives (Output.resultList: verify's mismatches, read page by page): with
// --json the very text that printing the whole object at once gives, whatever the head, the items and
// how they are cut into parts; for people, the head's text, each part's and the tail's, in order; and a
// part is taken only once stdout has taken the one before, so a slow reader never has the list queued.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
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

test('with --json, the text printed part by part is the text of the whole result', async () => {
  await fc.assert(
    fc.asyncProperty(head, parts, async (h, ps) => {
      const whole = capture();
      new Output(whole.io, { json: true }).result({ ...h, mismatchList: ps.flat() }, () => '');
      const streamed = capture();
      const list = new Output(streamed.io, { json: true }).resultList<unknown>(h, 'mismatchList', 'unused', () => 'unused');
      for (const p of ps) await list.add(p);
      await list.end('unused');
      assert.equal(streamed.text(), whole.text());
      assert.deepEqual(JSON.parse(streamed.text()), JSON.parse(whole.text()));
    }),
  );
});

test('for people, the head, each part that holds something, then the tail, each escaped as any output', async () => {
  const c = capture();
  const list = new Output(c.io).resultList<string>({ ignored: true }, 'mismatchList', 'Head', (p) => p.join(' | '));
  await list.add(['a', 'b']);
  await list.add([]);
  await list.add(['\u001b]52;c;x']);
  await list.end('\nTail');
  assert.equal(c.text(), 'Head\na | b\n\\u001b]52;c;x\n\nTail\n');
});

test('a part is taken once stdout has taken the last: a slow reader never has the list queued in memory', async () => {
  for (const json of [true, false]) {
    let written = '';
    const stdout = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _encoding, done) {
        written += chunk.toString();
        setTimeout(done, 2);
      },
    });
    const io = { stdout, stderr: stdout, stdin: process.stdin } as unknown as Io;
    const list = new Output(io, { json }).resultList<{ readonly n: number }>({ ok: false }, 'mismatchList', 'Head', (p) => p.map((x) => `row ${x.n}`).join('\n'));
    let queued = 0;
    for (let i = 0; i < 20; i++) {
      await list.add(Array.from({ length: 50 }, (_, n) => ({ n: i * 50 + n })));
      queued = Math.max(queued, stdout.writableLength);
    }
    await list.end('Tail');
    assert.ok(queued <= 1024, `${queued} bytes were still queued when the next part was taken`);
    await new Promise<void>((resolve) => stdout.end(resolve));
    if (json) assert.equal((JSON.parse(written) as { mismatchList: unknown[] }).mismatchList.length, 1000);
    else assert.equal(written.split('\n').filter((l) => l.startsWith('row ')).length, 1000);
  }
});
