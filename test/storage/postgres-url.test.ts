// PostgreSQL storage URLs: every part parsed and validated, every malformed case a typed invalid_config,
// and (property) the password never appears in any message, whatever else the URL holds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { EnclaveError } from '../../src/core/errors.ts';
import { describeLocation, parsePostgresUrl, POSTGRES_URL_DEFAULTS } from '../../src/storage/postgres/postgres-url.ts';

function invalid(url: string, ...words: string[]): void {
  assert.throws(
    () => parsePostgresUrl(url),
    (err: unknown) => {
      assert.ok(err instanceof EnclaveError, `expected an EnclaveError for ${url}, got ${String(err)}`);
      assert.equal(err.code, 'invalid_config');
      for (const w of words) assert.ok(err.message.includes(w), `${JSON.stringify(err.message)} names ${w}`);
      return true;
    },
    url,
  );
}

void describe('parsePostgresUrl', () => {
  void it('reads every part, percent-decoding user, password and database', () => {
    const l = parsePostgresUrl(
      'postgresql://app%40corp:p%3Aw%2F%20d@db.example.internal:6543/site%2Dus?schema=trusted_us&sslmode=verify-full&sslrootcert=/etc/ca.pem&connect_timeout=3&pool_size=20&application_name=gw-1',
    );
    assert.deepEqual(l, {
      host: 'db.example.internal',
      port: 6543,
      database: 'site-us',
      user: 'app@corp',
      password: 'p:w/ d',
      schema: 'trusted_us',
      sslmode: 'verify-full',
      sslrootcert: '/etc/ca.pem',
      connectTimeoutMs: 3000,
      poolSize: 20,
      applicationName: 'gw-1',
    });
  });

  void it('fills the defaults; the user and password may come from the environment instead', () => {
    assert.deepEqual(parsePostgresUrl('postgres://127.0.0.1/test'), {
      host: '127.0.0.1',
      port: POSTGRES_URL_DEFAULTS.port,
      database: 'test',
      user: undefined,
      password: undefined,
      schema: 'public',
      sslmode: 'disable',
      sslrootcert: undefined,
      connectTimeoutMs: POSTGRES_URL_DEFAULTS.connectTimeoutSeconds * 1000,
      poolSize: POSTGRES_URL_DEFAULTS.poolSize,
      applicationName: 'enclave',
    });
  });

  void it('accepts an IPv6 host and describes it bracketed, without user or password', () => {
    const l = parsePostgresUrl('postgres://u:secret@[::1]:5433/db?schema=s');
    assert.equal(l.host, '::1');
    assert.equal(describeLocation(l), 'PostgreSQL [::1]:5433/db (schema s)');
  });

  const cases: [string, string, ...string[]][] = [
    ['not a postgres URL', 'sqlite:site.db', 'postgres://'],
    ['not a URL at all', 'postgres://u:p@host:99999/db', 'not a valid URL'],
    ['no host', 'postgres:///db', 'no host'],
    ['no database', 'postgres://h', 'no database'],
    ['an empty database', 'postgres://h/', 'no database'],
    ['a dot-segment database', 'postgres://u:p@[::1]:5433/%2E', 'no database', 'postgres://user@[::1]:5433/database'],
    ['a path of two segments', 'postgres://h/db/more', 'exactly one database'],
    ['an unknown parameter', 'postgres://h/db?sslmode=disable&search_path=x', 'unknown parameter "search_path"', 'schema, sslmode'],
    ['a repeated parameter', 'postgres://h/db?schema=a&schema=b', '"schema" is given twice'],
    ['an upper-case schema', 'postgres://h/db?schema=Site', 'schema must be'],
    ['a schema with a hyphen', 'postgres://h/db?schema=site-us', 'schema must be'],
    ['a quoting attempt in the schema', 'postgres://h/db?schema=a%22%3Bdrop', 'schema must be'],
    ['a reserved pg_ schema', 'postgres://h/db?schema=pg_catalog', 'not starting with pg_'],
    ['a schema too long', `postgres://h/db?schema=${'s'.repeat(64)}`, 'at most 63'],
    ['an empty schema', 'postgres://h/db?schema=', 'schema must be'],
    ['an unknown sslmode', 'postgres://h/db?sslmode=prefer', 'sslmode must be one of: disable, require, verify-full'],
    ['sslrootcert without verify-full', 'postgres://h/db?sslrootcert=/ca.pem', 'only with sslmode=verify-full'],
    ['an empty sslrootcert', 'postgres://h/db?sslmode=verify-full&sslrootcert=', 'names no file'],
    ['a connect_timeout of zero', 'postgres://h/db?connect_timeout=0', 'connect_timeout must be an integer from 1 to 600'],
    ['a fractional connect_timeout', 'postgres://h/db?connect_timeout=1.5', 'connect_timeout'],
    ['a connect_timeout too large', 'postgres://h/db?connect_timeout=601', 'connect_timeout'],
    ['a pool_size of zero', 'postgres://h/db?pool_size=0', 'pool_size must be an integer from 1 to 1000'],
    ['an application_name with a space', 'postgres://h/db?application_name=a%20b', 'application_name'],
    ['a fragment', 'postgres://h/db#x', 'fragment'],
    ['bad percent-encoding in the password', 'postgres://u:%E0%A4%A@h/db', 'password is not valid percent-encoding'],
    ['bad percent-encoding in the database', 'postgres://h/%ZZ', 'database name is not valid percent-encoding'],
    // The protocol's strings end at a NUL: the server refuses such a startup packet, at the first connection.
    ['a NUL in the database', 'postgres://h/test%00x', 'database name holds a NUL character'],
    ['a NUL in the user', 'postgres://u%00v@h/db', 'user name holds a NUL character'],
    ['a NUL in the password', 'postgres://u:p%00w@h/db', 'password holds a NUL character'],
    ['a NUL in the host', 'postgres://h%00x/db', 'NUL'],
    ['a NUL in sslrootcert', 'postgres://h/db?sslmode=verify-full&sslrootcert=/ca%00.pem', 'sslrootcert holds a NUL character'],
  ];
  for (const [what, url, ...words] of cases) {
    void it(`refuses ${what} with invalid_config`, () => {
      invalid(url, ...words);
    });
  }

  const part = fc.string({ minLength: 1, maxLength: 24, unit: 'grapheme' }).filter((p) => !p.includes('\0'));
  // "." and ".." are path dot segments that URL parsing removes, encoded or not: no database has such a name here.
  const database = part.filter((d) => d !== '.' && d !== '..');
  const host = fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6());
  const schema = fc.stringMatching(/^[a-z_][a-z0-9_]{0,20}$/).filter((s) => !s.startsWith('pg_'));

  void it('property: whatever the user, password, database and schema, they parse back exactly', () => {
    fc.assert(
      fc.property(part, part, host, fc.integer({ min: 1, max: 65535 }), database, schema, (user, password, h, port, db, s) => {
        const hostPart = h.includes(':') ? `[${h}]` : h;
        const url = `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${hostPart}:${port}/${encodeURIComponent(db)}?schema=${s}`;
        const l = parsePostgresUrl(url);
        assert.deepEqual([l.user, l.password, l.database, l.schema, l.port], [user, password, db, s, port]);
      }),
      { numRuns: 300 },
    );
  });

  void it('property: any URL either parses or is refused with invalid_config, and no message repeats the password', () => {
    const password = 'S3cr3t-Zq9';
    const junk = fc.string({ maxLength: 30, unit: 'binary' });
    fc.assert(
      fc.property(junk, junk, junk, fc.constantFrom('postgres', 'postgresql', 'pg', 'POSTGRES', ''), (a, b, c, scheme) => {
        const url = `${scheme}://${a}:${password}@${b}/${c}`;
        try {
          parsePostgresUrl(url);
        } catch (err) {
          assert.ok(err instanceof EnclaveError && err.code === 'invalid_config', `${String(err)}`);
          assert.ok(!`${err.message}${JSON.stringify(err.details)}`.includes(password), 'the password leaked');
          assert.equal(err.cause, undefined, 'no cause that could carry the URL');
        }
      }),
      { numRuns: 1000 },
    );
  });
});
