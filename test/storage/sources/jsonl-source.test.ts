// The JSON Lines source against the conformance suite, plus what only files can get wrong: lines that
// are not objects, rows out of key order, and a purge that fails or is killed while it rewrites files.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EnclaveError } from '../../../src/core/errors.ts';
import { processStart } from '../../../src/storage/process-alive.ts';
import { JsonlSource } from '../../../src/storage/sources/jsonl-source.ts';
import { FIXTURE, sourceConformance } from './conformance.ts';

const root = mkdtempSync(join(tmpdir(), 'enclave-jsonl-source-'));
after(() => rmSync(root, { recursive: true, force: true }));

function writeTables(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const t of FIXTURE) {
    const lines = t.rows.map((r) => {
      const o: Record<string, unknown> = {};
      for (const c of t.columns) {
        const v = r[c.name] ?? null;
        if (c.type === 'blob') continue; // JSON has no bytes
        o[c.name] = typeof v === 'bigint' ? Number(v) : v;
      }
      return JSON.stringify(o);
    });
    // A blank line and Windows line ends are tolerated.
    writeFileSync(join(dir, `${t.name}.jsonl`), `${lines.slice(0, 2).join('\r\n')}\n\n${lines.slice(2).join('\n')}\n`);
  }
}

sourceConformance('jsonl', {
  schemaless: true,
  open() {
    const dir = join(root, 'conformance');
    writeTables(dir);
    return Promise.resolve(new JsonlSource(dir));
  },
});

const isData = (pattern: RegExp) => (err: unknown) => err instanceof EnclaveError && err.code === 'invalid_source_data' && pattern.test(err.message);

void describe('JSON Lines files the migration cannot read as they are', () => {
  const dir = join(root, 'bad');
  const read = (table: string, limit = 10) => new JsonlSource(dir).read({ table, columns: ['id'], key: ['id'], limit });

  void it('a line that is not JSON, or not an object, is refused naming the file and line', async () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'a.jsonl'), '{"id": 1}\n{"id": 2\n');
    await assert.rejects(read('a'), isData(/^a\.jsonl:2: not valid JSON/));
    writeFileSync(join(dir, 'b.jsonl'), '{"id": 1}\n[1, 2]\n');
    await assert.rejects(read('b'), isData(/^b\.jsonl:2: a line must be one JSON object/));
    // A member given twice: JSON.parse keeps the last value, and the first would be lost without a word.
    writeFileSync(join(dir, 'dup.jsonl'), '{"id": 1, "email": "old@x.io", "email": "new@x.io"}\n');
    await assert.rejects(read('dup'), isData(/^dup\.jsonl:1: member "email" appears twice in one object/));
    writeFileSync(join(dir, 'dup2.jsonl'), '{"id": 1}\n{"id": 2, "meta": {"k": 1, "k": 2}}\n');
    await assert.rejects(read('dup2'), isData(/^dup2\.jsonl:2: a member name of a nested object appears twice/));
  });

  void it('rows out of key order, or a key twice, are refused: keyset reads would skip rows', async () => {
    writeFileSync(join(dir, 'c.jsonl'), '{"id": 1}\n{"id": 3}\n{"id": 2}\n');
    await assert.rejects(read('c'), isData(/^c\.jsonl:3: rows must be in ascending, unique key order/));
    writeFileSync(join(dir, 'd.jsonl'), '{"id": "a"}\n{"id": "a"}\n');
    await assert.rejects(read('d'), isData(/^d\.jsonl:2: rows must be in ascending, unique key order/));
    writeFileSync(join(dir, 'e.jsonl'), '{"id": 1.5}\n');
    await assert.rejects(read('e'), isData(/^e\.jsonl:1: key "id" must be text or a whole number/));
  });

  void it('a rewrite an earlier release marked ready is finished on the next open', async () => {
    const d = join(root, 'crash');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 't.jsonl'), '{"id":1,"v":"secret-one"}\n{"id":2,"v":"kept"}\n');
    // The state a crash leaves between "kept lines written and marked ready" and "file rewritten".
    writeFileSync(join(d, 't.jsonl.purge-tmp'), '{"id":2,"v":"kept"}\n');
    writeFileSync(join(d, 't.jsonl.purge-ready'), '');
    const s = new JsonlSource(d);
    assert.equal(readFileSync(join(d, 't.jsonl'), 'utf8'), '{"id":2,"v":"kept"}\n');
    assert.equal(existsSync(join(d, 't.jsonl.purge-ready')), false);
    assert.equal(existsSync(join(d, 't.jsonl.purge-tmp')), false);
    assert.equal(await s.count('t'), 1);
  });

  /** Two tables, each with one row to purge (secret) and one to keep. */
  function twoTables(name: string): string {
    const d = join(root, name);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'messages.jsonl'), '{"id":1,"v":"secret-m"}\n{"id":2,"v":"kept-m"}\n');
    writeFileSync(join(d, 'accounts.jsonl'), '{"id":1,"v":"secret-a"}\n{"id":2,"v":"kept-a"}\n');
    return d;
  }
  const purge = (s: JsonlSource) =>
    s.transaction(['messages', 'accounts'], async (tx) => {
      await tx.delete('messages', ['id'], [[1]]);
      await tx.delete('accounts', ['id'], [[1]]);
    });
  const contents = (d: string) => [readFileSync(join(d, 'messages.jsonl'), 'utf8'), readFileSync(join(d, 'accounts.jsonl'), 'utf8')];
  const purged = ['{"id":2,"v":"kept-m"}\n', '{"id":2,"v":"kept-a"}\n'];

  void it('a purge that fails before every table is prepared purges no table, and leaves no side file', async () => {
    const d = twoTables('fails');
    const before = contents(d);
    // What a full disk or a bad file does to the second table's side file.
    mkdirSync(join(d, 'accounts.jsonl.purge-tmp'));
    await assert.rejects(purge(new JsonlSource(d)), /EISDIR/);
    assert.deepEqual(contents(d), before, 'neither file was touched');
    assert.deepEqual(readdirSync(d).sort(), ['accounts.jsonl', 'accounts.jsonl.purge-tmp', 'messages.jsonl']);
    rmSync(join(d, 'accounts.jsonl.purge-tmp'), { recursive: true });
    await purge(new JsonlSource(d));
    assert.deepEqual(contents(d), purged);
    assert.deepEqual(readdirSync(d).sort(), ['accounts.jsonl', 'messages.jsonl']);
  });

  void it('a purge killed between two tables is finished for both on the next open', async () => {
    const d = twoTables('killed');
    class DiesBetweenTables extends JsonlSource {
      protected override overwrite(table: string): void {
        if (table === 'accounts') throw new Error('killed');
        super.overwrite(table);
      }
    }
    await assert.rejects(purge(new DiesBetweenTables(d)), /killed/);
    assert.deepEqual(contents(d)[0], purged[0], 'the crash came after the first table was rewritten');
    assert.match(contents(d)[1] ?? '', /secret-a/, 'and before the second');
    const s = new JsonlSource(d);
    assert.deepEqual(contents(d), purged);
    assert.deepEqual(readdirSync(d).sort(), ['accounts.jsonl', 'messages.jsonl'], 'no side file, no marker');
    assert.equal(await s.count('accounts'), 1);
  });

  void it('an open during a purge leaves its side files alone, a second purge is refused, and a dead purge\'s lock is stale', async () => {
    const d = twoTables('concurrent');
    const s = new JsonlSource(d);
    await s.transaction(['messages', 'accounts'], async (tx) => {
      await tx.delete('messages', ['id'], [[1]]);
      await tx.delete('accounts', ['id'], [[1]]);
      // Another command (plan, verify, a second purge) opens the directory mid-purge.
      const other = new JsonlSource(d);
      assert.ok(readdirSync(d).some((f) => f.endsWith('.purge-deletes')), 'the purge\'s side files are still there');
      await assert.rejects(purge(other), (e: unknown) => e instanceof EnclaveError && e.code === 'source_unavailable' && /another purge of the JSON Lines source .* is under way \(process \d+\)/.test(e.message));
    });
    assert.deepEqual(contents(d), purged, 'both tables purged');
    assert.deepEqual(readdirSync(d).sort(), ['accounts.jsonl', 'messages.jsonl'], 'no side file, no lock');
    // A lock left by a process that is gone does not stop the next purge.
    const e = twoTables('stale');
    writeFileSync(join(e, '.purge-lock'), '999999999:dead');
    await purge(new JsonlSource(e));
    assert.deepEqual(contents(e), purged);
  });

  void it('the purge lock names its holder as the migration\'s claims do: host, pid, a token and the start time', async () => {
    const d = twoTables('holder');
    let lock = '';
    await new JsonlSource(d).transaction(['messages'], () => {
      lock = readFileSync(join(d, '.purge-lock'), 'utf8');
      return Promise.resolve();
    });
    assert.equal(lock.split(':').length, 4, lock);
    const [host, pid, token, start] = lock.split(':');
    assert.deepEqual([host, pid, start], [hostname(), String(process.pid), processStart(process.pid)]);
    assert.match(token ?? '', /^[0-9a-f]{8,}$/);
  });

  void it('a lock left by a process whose pid a live process that is not the holder now has is stale: the purge goes ahead', async () => {
    const start = processStart(process.pid);
    assert.ok(start !== undefined, 'Linux tells a process its start time');
    // The killed purge had this process's pid before (a container's PID 1 after a restart): it started earlier.
    for (const left of [`${hostname()}:${String(process.pid)}:0badc0de:${String(Number(start) - 1)}`, `${String(process.pid)}:0badc0de0badc0de`]) {
      const d = twoTables(`reused-${left.split(':').length}`);
      writeFileSync(join(d, '.purge-lock'), left);
      writeFileSync(join(d, 'messages.jsonl.purge-deletes'), '[1]\n'); // the dead purge's side file
      await purge(new JsonlSource(d));
      assert.deepEqual(contents(d), purged, left);
      assert.deepEqual(readdirSync(d).sort(), ['accounts.jsonl', 'messages.jsonl'], 'its side files and lock are gone');
    }
    // Another live process under the dead holder's pid, started at another time.
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    try {
      const pid = other.pid ?? 0;
      let otherStart: string | undefined;
      for (let i = 0; i < 100 && otherStart === undefined; i++) {
        otherStart = processStart(pid);
        if (otherStart === undefined) await new Promise((r) => setTimeout(r, 10));
      }
      assert.ok(otherStart !== undefined);
      const d = twoTables('reused-other');
      writeFileSync(join(d, '.purge-lock'), `${hostname()}:${String(pid)}:0badc0de:${String(Number(otherStart) - 1)}`);
      await purge(new JsonlSource(d));
      assert.deepEqual(contents(d), purged);
      // That same process as the holder: its lock holds, and its side files are left alone.
      const e = twoTables('live-other');
      writeFileSync(join(e, '.purge-lock'), `${hostname()}:${String(pid)}:0badc0de:${otherStart}`);
      writeFileSync(join(e, 'messages.jsonl.purge-deletes'), '[1]\n');
      const before = contents(e);
      await assert.rejects(purge(new JsonlSource(e)), (err: unknown) => err instanceof EnclaveError && err.code === 'source_unavailable' && new RegExp(`another purge of the JSON Lines source .* is under way \\(process ${String(pid)}\\)`).test(err.message));
      assert.deepEqual(contents(e), before);
      assert.ok(existsSync(join(e, 'messages.jsonl.purge-deletes')), 'the live purge\'s side file is kept');
    } finally {
      other.kill();
    }
  });

  void it('side files prepared without the commit marker are discarded on the next open: nothing is purged', () => {
    const d = twoTables('uncommitted');
    const before = contents(d);
    // A crash after the side files were written, before the marker was.
    writeFileSync(join(d, 'messages.jsonl.purge-tmp'), purged[0] ?? '');
    writeFileSync(join(d, 'messages.jsonl.purge-deletes'), '[1]\n');
    writeFileSync(join(d, 'accounts.jsonl.purge-deletes'), '[1]\n');
    writeFileSync(join(d, '.purge-commit'), '["messages","acc');
    new JsonlSource(d);
    assert.deepEqual(contents(d), before);
    assert.deepEqual(readdirSync(d).sort(), ['accounts.jsonl', 'messages.jsonl']);
  });
});
