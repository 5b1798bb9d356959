// Role-based rules from the configuration. The parent-company rule is checked first and cannot be
// overridden by any role, so a misconfigured role still never releases a protected field (invariant 2).
import { PARENT_FORBIDDEN_ACTIONS, type EnclaveConfig } from './config.ts';
import type { Decision, DecisionPoint, DecisionRequest } from './decision.ts';

export const POLICY_PARENT_NEVER_PROTECTED = 'builtin/parent-never-protected';
export const POLICY_ROLE_ACTIONS = 'builtin/role-actions';
export const POLICY_ROLE_READS = 'builtin/role-reads';

function deny(policy: string, reason: string): Decision {
  return { allow: false, release: 'public', policies: [policy], reason };
}

export function createRoleDecisionPoint(config: EnclaveConfig): DecisionPoint {
  return {
    decide(req: DecisionRequest): Decision {
      const { principal, action, collection } = req;
      const org = config.orgs.get(principal.org);
      const role = org?.roles.get(principal.role);
      if (!org || !role || org.kind !== principal.orgKind) {
        return deny(POLICY_ROLE_ACTIONS, `principal ${principal.id} has no role "${principal.role}" in org "${principal.org}"`);
      }
      const isParent = org.kind === 'parent';
      if (!role.actions.has(action)) {
        return deny(POLICY_ROLE_ACTIONS, `role ${org.id}/${role.id} may not ${action}`);
      }
      const touchesProtected = collection !== undefined && (req.fields ?? []).some((f) => collection.fields.get(f)?.class === 'protected');
      if ((action === 'record.write' || action === 'record.delete') && touchesProtected && (isParent || role.reads !== 'protected')) {
        return isParent
          ? deny(POLICY_PARENT_NEVER_PROTECTED, 'the parent company may not act on protected fields')
          : deny(POLICY_ROLE_READS, `role ${org.id}/${role.id} may not act on protected fields`);
      }
      if (isParent && PARENT_FORBIDDEN_ACTIONS.has(action)) {
        return deny(POLICY_PARENT_NEVER_PROTECTED, `the parent company may not ${action}`);
      }
      const release = !isParent && role.reads === 'protected' ? 'protected' : 'public';
      const policies = isParent ? [POLICY_ROLE_ACTIONS, POLICY_PARENT_NEVER_PROTECTED] : [POLICY_ROLE_ACTIONS, POLICY_ROLE_READS];
      return { allow: true, release, policies, reason: release === 'public' ? 'allowed; protected fields withheld' : 'allowed' };
    },
  };
}
