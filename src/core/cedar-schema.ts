// The Cedar schema (issue 3 point 1) generated from the configuration: its orgs, roles, purposes and
// collections become enumerated entity types, so a policy naming an org, role, purpose or collection
// that the configuration lacks fails validation when it is proposed. Cedar schema syntax:
// https://docs.cedarpolicy.com/schema/human-readable-schema.html
import { ACTIONS, GATEKEEPER_ACTIONS, ORG_KINDS, type Action, type OrgKind } from './config-schema.ts';
import type { EnclaveConfig } from './config.ts';
import { roleRef } from './gatekeeper-config.ts';

/**
 * The attributes of the `Request` context type below, every one the decision point can supply: a policy
 * that reads the context otherwise than by name is given them all (a test keeps the two lists equal).
 */
export const CONTEXT_ATTRIBUTES = ['org', 'role', 'role_allows', 'role_reads_protected', 'protected', 'purpose', 'service_purpose', 'approver', 'breakglass_role', 'grant', 'subject'] as const;

export const CEDAR_NAMESPACE = 'Enclave';

/** Principal entity type per org kind: `principal is Enclave::Parent` needs no entity data at all. */
export const PRINCIPAL_TYPES: Readonly<Record<OrgKind, string>> = {
  gatekeeper: 'Gatekeeper',
  parent: 'Parent',
  provider: 'Provider',
  regulator: 'Regulator',
  service: 'Service',
};

/** The resource of each non-record action: one `Enclave::System` entity per area. */
export const SYSTEM_RESOURCES = ['subjects', 'seal', 'access', 'policy', 'tokens', 'log'] as const;
export type SystemResource = (typeof SYSTEM_RESOURCES)[number];

export function systemResourceOf(action: Action): SystemResource | undefined {
  if (action.startsWith('record.')) return undefined;
  if (action.startsWith('subject.')) return 'subjects';
  if (action === 'enclave.seal') return 'seal';
  if (action.startsWith('access.') || action.startsWith('breakglass.')) return 'access';
  if (action.startsWith('policy.')) return 'policy';
  if (action.startsWith('log.')) return 'log';
  return 'tokens';
}

const quote = (s: string) => JSON.stringify(s);
const list = (items: readonly string[]) => `[${items.map(quote).join(', ')}]`;

export function cedarSchemaText(config: EnclaveConfig): string {
  const roles: string[] = [];
  for (const org of config.orgs.values()) for (const role of org.roles.keys()) roles.push(roleRef(org.id, role));
  const principals = ORG_KINDS.map((k) => PRINCIPAL_TYPES[k]).join(', ');
  const recordActions = ACTIONS.filter((a) => a.startsWith('record.'));
  // The name is free text in a `//` comment, which a line break (`\n` or `\r` for Cedar) would end.
  const name = config.name.replace(/[\r\n]+/g, ' ');
  const systemActions = [...ACTIONS.filter((a) => !a.startsWith('record.')), ...GATEKEEPER_ACTIONS];
  return `// Generated from the configuration "${name}": it changes when the configuration does.
namespace ${CEDAR_NAMESPACE} {
  // Principals: one entity type per org kind; the id is the principal's id.
  entity ${principals};
  entity Org enum ${list([...config.orgs.keys()])};
  entity Role enum ${list(roles)};
  entity Purpose enum ${list(config.gatekeeper.purposes)};
  // Resources: record actions act on a collection, every other action on one area of the enclave.
  entity Collection enum ${list([...config.collections.keys()])};
  entity System enum ${list(SYSTEM_RESOURCES)};
  type Grant = {
    id: String,
    breakglass: Bool,
  };
  type Request = {
    org: Org,
    role: Role,
    // The configuration's role lists this action.
    role_allows: Bool,
    // The configuration's role says reads: protected.
    role_reads_protected: Bool,
    // The request reaches protected data: protected fields released, written or deleted; a subject
    // erased or moved; the enclave sealed; access to protected fields requested.
    protected: Bool,
    // The purpose the request states, if any.
    purpose?: Purpose,
    // The principal is a platform service and the purpose is one configured for its role.
    service_purpose: Bool,
    // The principal belongs to an approver group of this kind of request or proposal.
    approver: Bool,
    // The principal's role may open break-glass access.
    breakglass_role: Bool,
    // The active grant that covers this read of protected fields, if any.
    grant?: Grant,
    // The subject's id, present when a policy of the active set refers to it.
    subject?: String,
  };
  action ${recordActions.map(quote).join(', ')} appliesTo {
    principal: [${principals}],
    resource: [Collection],
    context: Request,
  };
  action ${systemActions.map(quote).join(', ')} appliesTo {
    principal: [${principals}],
    resource: [System],
    context: Request,
  };
}
`;
}
