// The JSON Lines source against the conformance suite, plus what only files can get wrong: lines that
// are not objects, rows out of key order, and a rewrite interrupted by a crash.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EnclaveError } from '../../../src/core/errors.ts';
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
  });

  void it('rows out of key order, or a key twice, are refused: keyset reads would skip rows', async () => {
    writeFileSync(join(dir, 'c.jsonl'), '{"id": 1}\n{"id": 3}\n{"id": 2}\n');
    await assert.rejects(read('c'), isData(/^c\.jsonl:3: rows must be in ascending, unique key order/));
    writeFileSync(join(dir, 'd.jsonl'), '{"id": "a"}\n{"id": "a"}\n');
    await assert.rejects(read('d'), isData(/^d\.jsonl:2: rows must be in ascending, unique key order/));
    writeFileSync(join(dir, 'e.jsonl'), '{"id": 1.5}\n');
    await assert.rejects(read('e'), isData(/^e\.jsonl:1: key "id" must be text or a whole number/));
  });

  void it('a rewrite interrupted after its kept lines were safely written is finished on the next open', async () => {
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
});
