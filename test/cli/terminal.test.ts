// Terminal helpers: the hidden prompt never echoes, progress is JSON lines off a terminal and nothing
// with --quiet, and tables line up.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { columns, count } from '../../src/cli/output.ts';
import { createProgress, progressMode } from '../../src/cli/progress.ts';
import { readHidden, readStdin } from '../../src/cli/prompt.ts';
import { memoryIo } from './helpers.ts';

/** A fake terminal: a stdin that records raw-mode switches. */
function fakeTty(): PassThrough & { isTTY: boolean; modes: boolean[]; setRawMode(mode: boolean): void } {
  const modes: boolean[] = [];
  return Object.assign(new PassThrough(), { isTTY: true, modes, setRawMode: (mode: boolean) => void modes.push(mode) });
}

const tick = () => new Promise((r) => setImmediate(r));

describe('readHidden', () => {
  it('reads a line in raw mode, handles backspace, writes only the prompt, and restores the terminal', async () => {
    const stdin = fakeTty();
    const io = memoryIo({ stdin });
    const answer = readHidden(io, 'Share: ');
    stdin.write('enclave-share-v1-abcX');
    stdin.write('\u007f');
    stdin.write('d\r');
    assert.equal(await answer, 'enclave-share-v1-abcd');
    await tick();
    assert.deepEqual(stdin.modes, [true, false]);
    assert.equal(io.err(), 'Share: \n');
    assert.equal(io.out(), '');
  });

  it('Ctrl-C aborts with a one-line error and restores the terminal', async () => {
    const stdin = fakeTty();
    const io = memoryIo({ stdin });
    const answer = readHidden(io, 'Share: ');
    stdin.write('abc\u0003');
    await assert.rejects(answer, { code: 'aborted' });
    assert.deepEqual(stdin.modes, [true, false]);
  });

  it('refuses when there is no terminal', async () => {
    await assert.rejects(readHidden(memoryIo(), 'x'), { code: 'invalid_argument' });
  });
});

describe('readStdin', () => {
  it('reads piped input to its end', async () => {
    const stdin = new PassThrough();
    stdin.end('line one\nline two\n');
    assert.equal(await readStdin(memoryIo({ stdin })), 'line one\nline two\n');
  });
});

describe('progress', () => {
  it('is a bar on a terminal, JSON lines elsewhere, silent with --quiet', () => {
    const tty = { ...memoryIo(), stderr: Object.assign(new PassThrough(), { isTTY: true }) };
    assert.equal(progressMode(tty, false), 'bar');
    assert.equal(progressMode(memoryIo(), false), 'json');
    assert.equal(progressMode(tty, true), 'silent');
  });

  it('JSON mode writes parseable lines on stderr, the last one final', async () => {
    const io = memoryIo();
    const p = createProgress(io, 'json', { task: 'seeding', total: 10, unit: 'users', extras: ['records'] });
    p.update(3, { records: 30 });
    p.update(10, { records: 100 });
    p.stop();
    await tick();
    const events = io.err().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(events.length >= 1);
    assert.deepEqual(events.at(-1), { progress: 'seeding', done: 10, total: 10, unit: 'users', records: 100 });
    assert.equal(io.out(), '');
  });

  it('silent mode writes nothing', async () => {
    const io = memoryIo();
    const p = createProgress(io, 'silent', { task: 'seeding', total: 10, unit: 'users' });
    p.update(5);
    p.stop();
    await tick();
    assert.equal(io.err() + io.out(), '');
  });
});

describe('output helpers', () => {
  it('formats counts with thousands separators and aligns columns', () => {
    assert.equal(count(1234567), '1,234,567');
    assert.equal(columns([['a', 'bb', 'c'], ['ccc', 'd', 'e']]), '  a    bb  c\n  ccc  d   e');
  });
});
