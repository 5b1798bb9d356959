// Principals and token hashes on PostgreSQL (the control store's part of the port).
import type { TokenStore } from '../../core/store.ts';
import { TOKEN_COLUMNS, TOKEN_SELECT, tokenValues, toTokenWithPrincipal } from '../rows.ts';
import type { PostgresDb } from './postgres-db.ts';

export function postgresTokens(db: PostgresDb): TokenStore {
  return {
    create: async (principal, token) =>
      db.tx(async (sql) => {
        await sql.run('INSERT INTO principals (id, org, role, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING', [principal.id, principal.org, principal.role, principal.createdAt]);
        const [p] = await sql.rows('SELECT org, role FROM principals WHERE id = $1', [principal.id]);
        if (p?.['org'] !== principal.org || p['role'] !== principal.role) return 'principal_mismatch' as const;
        await sql.run(`INSERT INTO tokens (${TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)`, tokenValues(token));
        return 'created' as const;
      }),
    findByHash: async (hash) => {
      const r = (await db.prepared(`${TOKEN_SELECT} WHERE t.hash = $1`, [hash]))[0];
      return r ? toTokenWithPrincipal(r) : undefined;
    },
    revoke: async (id, at) => (await db.run('UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [at, id])) === 1,
    list: async () => (await db.rows(`${TOKEN_SELECT} ORDER BY t.created_at, t.id`)).map(toTokenWithPrincipal),
  };
}
