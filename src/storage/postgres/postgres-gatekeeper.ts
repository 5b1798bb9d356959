// The gatekeeper's sub-stores on PostgreSQL (control store): access requests, approvals, grants, policy
// versions and change proposals, with the same atomic decide/apply semantics as the SQLite store: every
// conditional change is one UPDATE whose WHERE clause is the condition, and what must happen with it
// happens in the same transaction.
import type { AccessRequestStore, ApprovalStore, GrantRow, GrantStore, InsertResult, PolicyVersionRow, PolicyVersionStore, ProposalStore } from '../../core/store.ts';
import {
  ProposalAbort,
  ACCESS_REQUEST_COLUMNS,
  accessRequestValues,
  APPROVAL_COLUMNS,
  approvalsByTarget,
  approvalValues,
  GRANT_COLUMNS,
  grantValues,
  noDenialSql,
  pageLimit,
  POLICY_VERSION_COLUMNS,
  policyVersionValues,
  PROPOSAL_COLUMNS,
  proposalValues,
  toAccessRequest,
  toApproval,
  toGrant,
  toPolicyVersion,
  toProposal,
} from '../rows.ts';
import { advisoryKey, type PostgresDb, type Sql } from './postgres-db.ts';
import { insertToken, orgBootstrapped, revokeToken } from './postgres-tokens.ts';

const params = (n: number, from = 1) => Array.from({ length: n }, (_, i) => `$${i + from}`).join(', ');

async function insertGrant(sql: Sql, g: GrantRow): Promise<void> {
  await sql.run(`INSERT INTO grants (${GRANT_COLUMNS}) VALUES (${params(10)})`, grantValues(g));
}

const NO_DENIAL = noDenialSql('$3');
const OPEN_BREAKGLASS = 'SELECT * FROM grants WHERE principal = $1 AND breakglass = 1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY expires_at, id';

export function postgresAccessRequests(db: PostgresDb): AccessRequestStore {
  return {
    insert: async (row, grant, maxOpen) =>
      db.tx(async (sql) => {
        if (grant && maxOpen !== undefined) {
          // One principal's openings queue on this lock (on every instance); under READ COMMITTED the
          // count then sees the grant of the one before.
          await sql.rows('SELECT pg_advisory_xact_lock($1)', [advisoryKey('breakglass', db.location.schema, grant.principal)]);
          if ((await sql.rows(OPEN_BREAKGLASS, [grant.principal, grant.createdAt])).length >= maxOpen) return 'limit' as const;
        }
        const n = await sql.run(`INSERT INTO access_requests (${ACCESS_REQUEST_COLUMNS}) VALUES (${params(16)}) ON CONFLICT (id) DO NOTHING`, accessRequestValues(row));
        if (n !== 1) return 'exists' satisfies InsertResult;
        if (grant) await insertGrant(sql, grant);
        return 'inserted' satisfies InsertResult;
      }),
    get: async (id) => {
      const r = (await db.prepared('SELECT * FROM access_requests WHERE id = $1', [id]))[0];
      return r ? toAccessRequest(r) : undefined;
    },
    list: async (options) =>
      (
        await db.rows(
          `SELECT * FROM access_requests WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR requester = $3)
           ORDER BY created_at DESC, id DESC LIMIT $4`,
          [options?.kind ?? null, options?.status ?? null, options?.requester ?? null, pageLimit(options?.limit)],
        )
      ).map(toAccessRequest),
    decide: async (id, d) =>
      db.tx(async (sql) => {
        const changed =
          d.status === 'denied'
            ? await sql.run(`UPDATE access_requests SET status = 'denied', decided_at = $1 WHERE id = $2 AND status = 'pending'`, [d.at, id])
            : await sql.run(`UPDATE access_requests SET status = 'approved', decided_at = $1, grant_id = $2 WHERE id = $3 AND status = 'pending' AND expires_at > $1 AND ${NO_DENIAL}`, [d.at, d.grant.id, id]);
        if (changed !== 1) return 'not_pending' as const;
        if (d.status === 'approved') await insertGrant(sql, d.grant);
        return 'decided' as const;
      }),
  };
}

export function postgresApprovals(db: PostgresDb): ApprovalStore {
  return {
    add: async (a) => ((await db.run(`INSERT INTO approvals (${APPROVAL_COLUMNS}) VALUES (${params(8)}) ON CONFLICT (target, approver) DO NOTHING`, approvalValues(a))) === 1 ? 'inserted' : 'exists'),
    list: async (target) => (await db.prepared('SELECT * FROM approvals WHERE target = $1 ORDER BY at, approver', [target])).map(toApproval),
    listMany: async (targets) =>
      approvalsByTarget(targets, targets.length === 0 ? [] : await db.prepared('SELECT * FROM approvals WHERE target = ANY($1::text[]) ORDER BY at, approver', [[...targets]])),
  };
}

export function postgresGrants(db: PostgresDb): GrantStore {
  return {
    get: async (id) => {
      const r = (await db.prepared('SELECT * FROM grants WHERE id = $1', [id]))[0];
      return r ? toGrant(r) : undefined;
    },
    listActive: async (at) => (await db.rows('SELECT * FROM grants WHERE expires_at > $1 AND revoked_at IS NULL ORDER BY created_at, id', [at])).map(toGrant),
    openBreakGlass: async (principal, at) => (await db.rows(OPEN_BREAKGLASS, [principal, at])).map(toGrant),
    list: async (options) =>
      (await db.rows('SELECT * FROM grants WHERE ($1::text IS NULL OR principal = $1) ORDER BY created_at DESC, id DESC LIMIT $2', [options?.principal ?? null, pageLimit(options?.limit)])).map(toGrant),
    revoke: async (id, at, by) => (await db.run('UPDATE grants SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL', [at, by, id])) === 1,
  };
}

/**
 * Appends version n only if the latest is n - 1. Two instances appending at once: the second one's
 * INSERT waits on the first one's key and then inserts nothing (ON CONFLICT), so it answers `stale`.
 */
async function appendVersion(sql: Sql, v: PolicyVersionRow): Promise<'inserted' | 'stale'> {
  const n = await sql.run(
    `INSERT INTO policy_versions (${POLICY_VERSION_COLUMNS})
     SELECT ${params(6)} WHERE (SELECT coalesce(max(version), 0) FROM policy_versions) = $1::integer - 1
     ON CONFLICT (version) DO NOTHING`,
    policyVersionValues(v),
  );
  return n === 1 ? 'inserted' : 'stale';
}

export function postgresPolicyVersions(db: PostgresDb): PolicyVersionStore {
  return {
    append: async (v) => appendVersion(db, v),
    latest: async () => {
      const r = (await db.rows('SELECT * FROM policy_versions ORDER BY version DESC LIMIT 1'))[0];
      return r ? toPolicyVersion(r) : undefined;
    },
    get: async (version) => {
      const r = (await db.rows('SELECT * FROM policy_versions WHERE version = $1', [version]))[0];
      return r ? toPolicyVersion(r) : undefined;
    },
    list: async () => (await db.rows('SELECT * FROM policy_versions ORDER BY version')).map(toPolicyVersion),
  };
}

export function postgresProposals(db: PostgresDb): ProposalStore {
  return {
    insert: async (p) => ((await db.run(`INSERT INTO proposals (${PROPOSAL_COLUMNS}) VALUES (${params(12)}) ON CONFLICT (id) DO NOTHING`, proposalValues(p))) === 1 ? 'inserted' : 'exists'),
    get: async (id) => {
      const r = (await db.prepared('SELECT * FROM proposals WHERE id = $1', [id]))[0];
      return r ? toProposal(r) : undefined;
    },
    list: async (options) =>
      (
        await db.rows('SELECT * FROM proposals WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR status = $2) ORDER BY created_at DESC, id DESC LIMIT $3', [
          options?.kind ?? null,
          options?.status ?? null,
          pageLimit(options?.limit),
        ])
      ).map(toProposal),
    decide: async (id, d) => {
      try {
        return await db.tx(async (sql) => {
          const changed =
            d.status === 'applied'
              ? await sql.run(`UPDATE proposals SET status = 'applied', decided_at = $1, outcome = $2 WHERE id = $3 AND status = 'pending' AND expires_at > $1 AND ${NO_DENIAL}`, [d.at, d.outcome, id])
              : await sql.run(`UPDATE proposals SET status = $1, decided_at = $2, outcome = $3 WHERE id = $4 AND status = 'pending'`, [d.status, d.at, d.outcome, id]);
          if (changed !== 1) return 'not_pending' as const;
          if (d.status !== 'applied') return 'decided' as const;
          const e = d.effect;
          switch (e.kind) {
            case 'policy':
              if ((await appendVersion(sql, e.version)) === 'stale') throw new ProposalAbort('stale');
              break;
            case 'token.issue':
              if (e.bootstrap && (await orgBootstrapped(sql, db, e.bootstrap))) throw new ProposalAbort('org_bootstrapped');
              if ((await insertToken(sql, e.principal, e.token)) === 'principal_mismatch') throw new ProposalAbort('principal_mismatch');
              break;
            case 'token.revoke':
              if ((await revokeToken(sql, db, e.tokenId, d.at)).length === 0) throw new ProposalAbort('token_not_found');
              break;
          }
          return 'decided' as const;
        });
      } catch (err) {
        if (err instanceof ProposalAbort) return err.why;
        throw err;
      }
    },
  };
}
