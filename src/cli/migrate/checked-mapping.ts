// The mapping file of a `migrate` command, read before anything is opened, with its
// source URL checked the way the source's driver will parse it. The mapping's own validation
// (core/migration-mapping.ts) checks only a URL's scheme; a URL the driver cannot parse would otherwise
// fail in the migration as `internal: Invalid URL`, naming neither the file nor the key.
import type { MigrationMapping, SourceSpec } from '../../core/migration-mapping.ts';
import { EnclaveError } from '../../core/errors.ts';
import { loadMapping } from '../../services/migration/mapping-loader.ts';

const EXPECTED = {
  postgres: 'postgres://user:password@host:port/database',
  mysql: 'mysql://user:password@host:port/database',
} as const;

/**
 * Why the driver would refuse the URL of a network source, or undefined. Never repeats the URL: it may
 * hold a password.
 */
async function sourceUrlProblem(spec: SourceSpec): Promise<string | undefined> {
  if (spec.kind === 'postgres') {
    // pg parses the URL (and reads an sslrootcert, sslcert or sslkey it names) when a client is made,
    // without connecting: the same parse the source makes, so nothing it takes is refused here.
    const { default: pg } = await import('pg');
    try {
      new pg.Client({ connectionString: spec.url });
      return undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ERR_INVALID_URL') return `is not a valid URL (expected ${EXPECTED.postgres})`;
      // The reasons pg gives are about the parameters (a file it cannot read, an unknown sslmode); its
      // own URL-parsing error, the one that could echo the input, is the case above.
      return `cannot be used: ${(err instanceof Error ? err.message : String(err)).replaceAll(spec.url, '(the URL)')}`;
    }
  }
  // mysql2 parses it with the WHATWG URL parser, as here.
  if (spec.kind === 'mysql' && !URL.canParse(spec.url)) return `is not a valid URL (expected ${EXPECTED.mysql})`;
  return undefined;
}

/** Loads the mapping; refuses (invalid_mapping, naming the file and the key) a source URL its driver cannot parse. */
export async function checkedMapping(path: string): Promise<MigrationMapping> {
  const mapping = loadMapping(path);
  const problem = await sourceUrlProblem(mapping.source);
  if (problem !== undefined) throw new EnclaveError('invalid_mapping', `${path}: source.${mapping.source.kind} ${problem}`);
  return mapping;
}
