// Who a migration acts as. Every record it writes, re-copies, reads back or removes goes through the
// vault's decision point like any request. Under the gatekeeper's policies (docs/gatekeeper.md) a
// platform service reads and writes protected fields only for a purpose configured for it, so a
// migration acts as a service role that may do all of that and states the purpose `migration`; that
// purpose must be listed for the role in gatekeeper.service_purposes (the starter configuration does).
import type { RoleAction } from '../../core/config-schema.ts';
import type { EnclaveConfig } from '../../core/config.ts';
import { EnclaveError } from '../../core/errors.ts';
import type { Principal } from '../../core/principal.ts';

export const MIGRATION_ACTIONS: readonly RoleAction[] = ['subject.register', 'record.write', 'record.read', 'record.delete'];
export const MIGRATION_PURPOSE = 'migration';

export function migrationPrincipal(config: EnclaveConfig, name: string, as: { org?: string; role?: string } = {}): Principal {
  const needs = `${MIGRATION_ACTIONS.join(', ')}, protected reads and the service purpose "${MIGRATION_PURPOSE}" (gatekeeper.service_purposes)`;
  const fits = (orgId: string, roleId: string) => {
    const org = config.orgs.get(orgId);
    const role = org?.roles.get(roleId);
    return (
      org?.kind === 'service' &&
      role?.reads === 'protected' &&
      MIGRATION_ACTIONS.every((a) => role.actions.has(a)) &&
      (config.gatekeeper.servicePurposes.get(`${orgId}/${roleId}`)?.has(MIGRATION_PURPOSE) ?? false)
    );
  };
  if (as.org !== undefined || as.role !== undefined) {
    const org = as.org ?? '';
    const role = as.role ?? '';
    if (!fits(org, role)) throw new EnclaveError('invalid_argument', `role ${org}/${role} cannot run a migration: it must be a platform service role with ${needs}`);
    return principalOf(org, role, name);
  }
  for (const org of config.orgs.values()) {
    for (const role of org.roles.values()) if (fits(org.id, role.id)) return principalOf(org.id, role.id, name);
  }
  throw new EnclaveError('invalid_argument', `no platform service role of the configuration may run a migration (it needs ${needs}); name one with --org and --role`);
}

function principalOf(org: string, role: string, name: string): Principal {
  return { id: `migration:${name}`, org, orgKind: 'service', role, tokenId: 'local', purpose: MIGRATION_PURPOSE };
}
