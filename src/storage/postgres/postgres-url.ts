// PostgreSQL storage URLs: postgres://[user[:password]@]host[:port]/database[?param=value&...]
// (the libpq URI form, RFC 3986). Parsed strictly: an unknown or repeated parameter is refused, so a typo
// never silently falls back to a default. Messages never repeat the URL: it may carry a password.
import { EnclaveError } from '../../core/errors.ts';

type SslMode = 'disable' | 'require' | 'verify-full';

export interface PostgresLocation {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  /** Absent: the driver's default (PGUSER, else the OS user). */
  readonly user: string | undefined;
  /** Absent: PGPASSWORD or ~/.pgpass, which keeps the secret out of the configuration file. */
  readonly password: string | undefined;
  /** The schema every table of this store lives in (the connection's search_path). */
  readonly schema: string;
  readonly sslmode: SslMode;
  /** CA certificate file for verify-full; absent: the system's CAs. */
  readonly sslrootcert: string | undefined;
  readonly connectTimeoutMs: number;
  readonly poolSize: number;
  readonly applicationName: string;
}

export const POSTGRES_URL_DEFAULTS = { port: 5432, schema: 'public', sslmode: 'disable', connectTimeoutSeconds: 10, poolSize: 10, applicationName: 'enclave' } as const;

/** Lower-case SQL identifiers only, so the schema never needs quoting; `pg_` names are reserved by PostgreSQL. */
const SCHEMA = /^(?!pg_)[a-z_][a-z0-9_]{0,62}$/;
const APPLICATION_NAME = /^[A-Za-z0-9._-]{1,63}$/;
const PARAMS = ['schema', 'sslmode', 'sslrootcert', 'connect_timeout', 'pool_size', 'application_name'] as const;
type Param = (typeof PARAMS)[number];
const SSL_MODES: readonly SslMode[] = ['disable', 'require', 'verify-full'];

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

function refuse(message: string): never {
  throw new EnclaveError('invalid_config', `PostgreSQL storage URL: ${message}`);
}

function decode(part: string, what: string): string {
  let out: string;
  try {
    out = decodeURIComponent(part);
  } catch {
    return refuse(`the ${what} is not valid percent-encoding`);
  }
  return noNul(out, what);
}

/**
 * The startup message carries the user and database as NUL-terminated strings (PostgreSQL protocol,
 * "Message Formats": String): a NUL in one fails at the server ("invalid startup packet layout") only
 * once the store is opened. Refused here, at the configuration's load, naming the part.
 */
function noNul(value: string, what: string): string {
  if (value.includes('\0')) refuse(`the ${what} holds a NUL character (%00), which PostgreSQL cannot take`);
  return value;
}

function integer(value: string, name: string, min: number, max: number): number {
  const n = /^[0-9]{1,6}$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) refuse(`${name} must be an integer from ${min} to ${max}`);
  return n;
}

export function parsePostgresUrl(url: string): PostgresLocation {
  if (!isPostgresUrl(url)) refuse('must start with postgres:// or postgresql://');
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // The parser's own error repeats the input, password included: say what is wrong, not what was given.
    return refuse('not a valid URL (expected postgres://user@host:port/database?schema=name)');
  }
  if (u.hash !== '') refuse('a #fragment is not allowed');
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : decode(u.hostname, 'host');
  if (host === '') refuse('names no host (expected postgres://user@host:port/database)');
  const port = u.port === '' ? POSTGRES_URL_DEFAULTS.port : integer(u.port, 'the port', 1, 65535);
  const path = u.pathname.replace(/^\//, '');
  // URL normalization removes dot segments ("." and "..", also as %2E): such a database cannot be named here.
  if (path === '') refuse(`names no database (expected postgres://user@${u.host}/database)`);
  if (path.includes('/')) refuse('the path must be exactly one database name');
  const database = decode(path, 'database name');

  const params = new Map<Param, string>();
  for (const [key, value] of u.searchParams) {
    if (!(PARAMS as readonly string[]).includes(key)) refuse(`unknown parameter "${key.slice(0, 40)}" (expected one of: ${PARAMS.join(', ')})`);
    if (params.has(key as Param)) refuse(`parameter "${key}" is given twice`);
    params.set(key as Param, value);
  }
  const schema = params.get('schema') ?? POSTGRES_URL_DEFAULTS.schema;
  if (!SCHEMA.test(schema)) refuse('schema must be a lower-case identifier (a-z, 0-9, _; at most 63 characters; not starting with pg_)');
  const sslmode = params.get('sslmode') ?? POSTGRES_URL_DEFAULTS.sslmode;
  if (!(SSL_MODES as readonly string[]).includes(sslmode)) refuse(`sslmode must be one of: ${SSL_MODES.join(', ')}`);
  const sslrootcert = params.get('sslrootcert');
  if (sslrootcert !== undefined && sslmode !== 'verify-full') refuse('sslrootcert applies only with sslmode=verify-full');
  if (sslrootcert === '') refuse('sslrootcert names no file');
  if (sslrootcert !== undefined) noNul(sslrootcert, 'sslrootcert');
  const timeout = params.get('connect_timeout');
  const size = params.get('pool_size');
  const applicationName = params.get('application_name') ?? POSTGRES_URL_DEFAULTS.applicationName;
  if (!APPLICATION_NAME.test(applicationName)) refuse('application_name must be 1 to 63 characters of A-Z a-z 0-9 . _ -');

  return {
    host,
    port,
    database,
    user: u.username === '' ? undefined : decode(u.username, 'user name'),
    password: u.password === '' ? undefined : decode(u.password, 'password'),
    schema,
    sslmode: sslmode as SslMode,
    sslrootcert,
    connectTimeoutMs: (timeout === undefined ? POSTGRES_URL_DEFAULTS.connectTimeoutSeconds : integer(timeout, 'connect_timeout', 1, 600)) * 1000,
    poolSize: size === undefined ? POSTGRES_URL_DEFAULTS.poolSize : integer(size, 'pool_size', 1, 1000),
    applicationName,
  };
}

/** Where a store lives, for messages: host, port, database and schema; never the user's password. */
export function describeLocation(l: Pick<PostgresLocation, 'host' | 'port' | 'database' | 'schema'>): string {
  const host = l.host.includes(':') ? `[${l.host}]` : l.host;
  return `PostgreSQL ${host}:${l.port}/${l.database} (schema ${l.schema})`;
}
