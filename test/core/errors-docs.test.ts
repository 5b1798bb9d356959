// The error registry, its HTTP mapping and docs/errors.md must agree (fastify's error-registry habit).
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODES, type ErrorCode } from '../../src/core/errors.ts';
import { ERROR_STATUS } from '../../src/http/error-status.ts';
import { CLI_ONLY_CODES } from '../../src/cli/fail.ts';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
const rows = new Map<string, { status: number; meaning: string }>();
for (const m of doc.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \| (.+) \|$/gm)) {
  rows.set(m[1] ?? '', { status: Number(m[2]), meaning: (m[3] ?? '').trim() });
}

test('every error code is documented with its HTTP status and meaning', () => {
  for (const [code, meaning] of Object.entries(ERROR_CODES)) {
    const row = rows.get(code);
    assert.ok(row, `docs/errors.md lacks a row for ${code}`);
    assert.equal(row.status, ERROR_STATUS[code as ErrorCode], `status of ${code} differs between docs and src/http/error-status.ts`);
    assert.equal(row.meaning, meaning, `meaning of ${code} differs between docs and src/core/errors.ts`);
  }
});

test('docs/errors.md documents no code that the code base lacks', () => {
  assert.ok(rows.size > 0, 'no rows parsed from docs/errors.md');
  for (const code of rows.keys()) assert.ok(Object.hasOwn(ERROR_CODES, code), `docs/errors.md documents unknown code ${code}`);
});

test('client errors are 4xx and only server faults are 5xx', () => {
  const serverSide = new Set<ErrorCode>(['sealed', 'integrity_error', 'invalid_config', 'not_initialized', 'data_dir_insecure', 'migration_refused', 'storage_unavailable', 'source_unavailable', 'log_unavailable', 'witness_unavailable', 'policy_engine_failed', 'shutting_down', 'internal']);
  for (const [code, status] of Object.entries(ERROR_STATUS) as [ErrorCode, number][]) {
    if (serverSide.has(code)) assert.ok(status >= 500, `${code} should be 5xx`);
    else assert.ok(status >= 400 && status < 500, `${code} should be 4xx, is ${status}`);
  }
});

test('the CLI-only codes are documented, and none shadows an API code', () => {
  const cli = new Map<string, string>();
  for (const m of doc.matchAll(/^\| `([a-z_]+)` \| ([^|0-9][^|]*) \|$/gm)) cli.set(m[1] ?? '', (m[2] ?? '').trim());
  assert.deepEqual([...cli.keys()].sort(), Object.keys(CLI_ONLY_CODES).sort());
  for (const [code, meaning] of Object.entries(CLI_ONLY_CODES)) {
    assert.equal(cli.get(code), meaning, `meaning of ${code} differs between docs and src/cli/fail.ts`);
    assert.ok(!Object.hasOwn(ERROR_CODES, code), `${code} is both an API and a CLI-only code`);
  }
});
