// A source URL the driver cannot use is a clear, typed refusal naming the source without its password,
// on one line: never the driver's bare words under `internal`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnclaveError } from '../../src/core/errors.ts';
import { PostgresSource } from '../../src/storage/sources/postgres-source.ts';

const refusal = (pattern: RegExp) => (err: unknown) =>
  err instanceof EnclaveError && err.code === 'source_unavailable' && pattern.test(err.message) && !err.message.includes('S3CRET') && !err.message.includes('\n');

void describe('a PostgreSQL source URL the driver refuses before connecting', () => {
  void it('an invalid port is source_unavailable naming the source, without the password', async () => {
    await assert.rejects(PostgresSource.open('postgres://u:S3CRET@127.0.0.1:99999/db'), refusal(/^cannot connect to the PostgreSQL source .*: Invalid URL$/));
  });

  void it('an ssl file that cannot be read is source_unavailable naming the source, without the password', async () => {
    await assert.rejects(
      PostgresSource.open('postgres://u:S3CRET@127.0.0.1:5432/db?sslmode=require&sslcert=/nonexistent/client.crt'),
      refusal(/^cannot connect to the PostgreSQL source postgres:\/\/u:\*\*\*@127\.0\.0\.1:5432\/db\?sslmode=require&sslcert=.*: ENOENT/),
    );
  });
});
