// Principals and token hashes on PostgreSQL (the control store's part of the port).
import type { OrgBootstrap, PrincipalRow, TokenRow, TokenStore } from '../../core/store.ts';
import { TOKEN_COLUMNS, TOKEN_SELECT, tokenValues, toTokenWithPrincipal } from '../rows.ts';
import { advisoryKey, type PostgresDb, type Sql } from './postgres-db.ts';

const INSERT_TOKEN = `INSERT INTO tokens (${TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;

/** Creates the principal if new (its org and role must then match) and the token; call inside a transaction. */
export async function insertToken(sql: Sql, principal: PrincipalRow, token: TokenRow): Promise<'created' | 'principal_mismatch'> {
  await sql.run('INSERT INTO principals (id, org, role, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING', [principal.id, principal.org, principal.role, principal.createdAt]);
  const [p] = await sql.rows('SELECT org, role FROM principals WHERE id = $1', [principal.id]);
  if (p?.['org'] !== principal.org || p['role'] !== principal.role) return 'principal_mismatch';
  await sql.run(INSERT_TOKEN, tokenValues(token));
  return 'created';
}

/**
 * Whether a principal of the bootstrap's org with one of its roles or ids held a token created since
 * `b.since`, or holds one still valid at `b.at` (OrgBootstrap). Two bootstraps of one org queue on an
 * advisory lock (on every instance): under READ COMMITTED the second's SELECT, taken after the lock, sees
 * the token the first committed. Call inside a transaction.
 */
export async function orgBootstrapped(sql: Sql, db: PostgresDb, b: OrgBootstrap): Promise<boolean> {
  await sql.rows('SELECT pg_advisory_xact_lock($1)', [advisoryKey('org-bootstrap', db.location.schema, b.org)]);
  const found = await sql.rows(
    `SELECT 1 FROM tokens t JOIN principals p ON p.id = t.principal_id WHERE p.org = $1 AND (p.role = ANY($2::text[]) OR p.id = ANY($3::text[]))
       AND (t.created_at >= $4 OR (t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $5))) LIMIT 1`,
    [b.org, b.roles, b.principals, b.since, b.at],
  );
  return found.length > 0;
}

/**
 * Rotations and revocations of one lineage queue on this lock (on every instance), so that under READ
 * COMMITTED a revocation's UPDATE, which takes its snapshot after the lock, sees the token a rotation
 * committed just before; a row lock alone would not (the new token is not in its snapshot). Call
 * inside a transaction.
 */
async function lockLineage(sql: Sql, db: PostgresDb, lineage: string): Promise<void> {
  await sql.rows('SELECT pg_advisory_xact_lock($1)', [advisoryKey('token-lineage', db.location.schema, lineage)]);
}

/** Revokes every token of the lineage of `id` not revoked yet and returns their ids; call inside a transaction. */
export async function revokeToken(sql: Sql, db: PostgresDb, id: string, at: number): Promise<string[]> {
  const [t] = await sql.rows('SELECT lineage FROM tokens WHERE id = $1', [id]);
  if (!t) return [];
  const lineage = String(t['lineage']);
  await lockLineage(sql, db, lineage);
  return (await sql.rows('UPDATE tokens SET revoked_at = $1 WHERE lineage = $2 AND revoked_at IS NULL RETURNING id', [at, lineage])).map((r) => String(r['id']));
}

export function postgresTokens(db: PostgresDb): TokenStore {
  return {
    create: async (principal, token) => db.tx(async (sql) => insertToken(sql, principal, token)),
    findByHash: async (hash) => {
      const r = (await db.prepared(`${TOKEN_SELECT} WHERE t.hash = $1`, [hash]))[0];
      return r ? toTokenWithPrincipal(r) : undefined;
    },
    revoke: async (id, at) => db.tx(async (sql) => revokeToken(sql, db, id, at)),
    rotate: async (replaced, token, at) =>
      db.tx(async (sql) => {
        await lockLineage(sql, db, token.lineage);
        const n = await sql.run('UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL AND lineage = $3 AND principal_id = $4', [at, replaced, token.lineage, token.principalId]);
        if (n !== 1) return 'not_active' as const;
        await sql.run(INSERT_TOKEN, tokenValues({ ...token, replaces: replaced }));
        return 'rotated' as const;
      }),
    get: async (id) => {
      const r = (await db.prepared(`${TOKEN_SELECT} WHERE t.id = $1`, [id]))[0];
      return r ? toTokenWithPrincipal(r) : undefined;
    },
    lineage: async (lineage) => (await db.rows(`${TOKEN_SELECT} WHERE t.lineage = $1 ORDER BY t.created_at, t.id`, [lineage])).map(toTokenWithPrincipal),
    list: async () => (await db.rows(`${TOKEN_SELECT} ORDER BY t.created_at, t.id`)).map(toTokenWithPrincipal),
  };
}
