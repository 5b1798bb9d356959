// Principals and token hashes on PostgreSQL (the control store's part of the port).
import type { PrincipalRow, TokenRow, TokenStore } from '../../core/store.ts';
import { TOKEN_COLUMNS, TOKEN_SELECT, tokenValues, toTokenWithPrincipal } from '../rows.ts';
import type { PostgresDb, Sql } from './postgres-db.ts';

/** Creates the principal if new (its org and role must then match) and the token; call inside a transaction. */
export async function insertToken(sql: Sql, principal: PrincipalRow, token: TokenRow): Promise<'created' | 'principal_mismatch'> {
  await sql.run('INSERT INTO principals (id, org, role, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING', [principal.id, principal.org, principal.role, principal.createdAt]);
  const [p] = await sql.rows('SELECT org, role FROM principals WHERE id = $1', [principal.id]);
  if (p?.['org'] !== principal.org || p['role'] !== principal.role) return 'principal_mismatch';
  await sql.run(`INSERT INTO tokens (${TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)`, tokenValues(token));
  return 'created';
}

export async function revokeToken(sql: Sql, id: string, at: number): Promise<boolean> {
  return (await sql.run('UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [at, id])) === 1;
}

export function postgresTokens(db: PostgresDb): TokenStore {
  return {
    create: async (principal, token) => db.tx(async (sql) => insertToken(sql, principal, token)),
    findByHash: async (hash) => {
      const r = (await db.prepared(`${TOKEN_SELECT} WHERE t.hash = $1`, [hash]))[0];
      return r ? toTokenWithPrincipal(r) : undefined;
    },
    revoke: async (id, at) => revokeToken(db, id, at),
    get: async (id) => {
      const r = (await db.prepared(`${TOKEN_SELECT} WHERE t.id = $1`, [id]))[0];
      return r ? toTokenWithPrincipal(r) : undefined;
    },
    list: async () => (await db.rows(`${TOKEN_SELECT} ORDER BY t.created_at, t.id`)).map(toTokenWithPrincipal),
  };
}
