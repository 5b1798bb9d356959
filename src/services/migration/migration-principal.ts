// Who a migration acts as. Every record it writes, re-copies, reads back or removes goes through the
// vault's decision point like any request, so it needs a role of the configuration allowed to register
// subjects, write, read protected fields and delete: by default the first gatekeeper role that may.
import type { Action } from '../../core/config-schema.ts';
import type { EnclaveConfig } from '../../core/config.ts';
import { EnclaveError } from '../../core/errors.ts';
import type { Principal } from '../../core/principal.ts';

export const MIGRATION_ACTIONS: readonly Action[] = ['subject.register', 'record.write', 'record.read', 'record.delete'];

export function migrationPrincipal(config: EnclaveConfig, name: string, as: { org?: string; role?: string } = {}): Principal {
  const fits = (orgId: string, roleId: string) => {
    const org = config.orgs.get(orgId);
    const role = org?.roles.get(roleId);
    return org !== undefined && role !== undefined && org.kind !== 'parent' && role.reads === 'protected' && MIGRATION_ACTIONS.every((a) => role.actions.has(a));
  };
  if (as.org !== undefined || as.role !== undefined) {
    const org = as.org ?? '';
    const role = as.role ?? '';
    if (!fits(org, role)) {
      throw new EnclaveError('invalid_argument', `role ${org}/${role} cannot run a migration: it needs ${MIGRATION_ACTIONS.join(', ')} and protected reads, outside the parent company`);
    }
    return principalOf(config, org, role, name);
  }
  for (const org of config.orgs.values()) {
    if (org.kind !== 'gatekeeper') continue;
    for (const role of org.roles.values()) if (fits(org.id, role.id)) return principalOf(config, org.id, role.id, name);
  }
  throw new EnclaveError('invalid_argument', `no gatekeeper role of the configuration may run a migration (it needs ${MIGRATION_ACTIONS.join(', ')} and protected reads); name one with --org and --role`);
}

function principalOf(config: EnclaveConfig, org: string, role: string, name: string): Principal {
  return { id: `migration:${name}`, org, orgKind: config.orgs.get(org)?.kind ?? 'gatekeeper', role, tokenId: 'local' };
}
