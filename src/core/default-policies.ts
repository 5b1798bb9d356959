// The policy sets the enclave ships (issue 3 point 1), in Cedar. Every policy carries an `@id`, the name
// decisions and the log use, and a `@reason`, the sentence a denied user reads.
//
// The invariants are evaluated with whatever set is active and no proposal can replace or remove them:
// Cedar's forbid-overrides-permit semantics means no grant, approval or later `permit` undoes them.

export const INVARIANT_ID_PREFIX = 'invariant/';

export const INVARIANT_POLICIES = `// Invariants: always in force, with every policy version. Invariant 2 of the product: the parent
// company never receives a protected value, whatever grant, approval or policy exists. Nor does it see
// the gatekeeper's deliberations (policy versions and proposals, who approved them, their comments),
// just as it never reads the transparency log.

@id("invariant/parent-never-protected")
@reason("the parent company may never act on protected data, whatever grant, approval or policy exists")
forbid (principal is Enclave::Parent, action, resource)
when { context.protected };

@id("invariant/parent-no-governance")
@reason("the parent company takes no part in access requests, approvals, break-glass, policy, tokens or the transparency log")
forbid (
  principal is Enclave::Parent,
  action in [
    Enclave::Action::"access.request",
    Enclave::Action::"access.review",
    Enclave::Action::"access.list",
    Enclave::Action::"access.revoke",
    Enclave::Action::"breakglass.open",
    Enclave::Action::"breakglass.review",
    Enclave::Action::"policy.read",
    Enclave::Action::"policy.propose",
    Enclave::Action::"policy.approve",
    Enclave::Action::"token.list",
    Enclave::Action::"token.propose",
    Enclave::Action::"token.approve",
    Enclave::Action::"log.read",
    Enclave::Action::"log.search",
    Enclave::Action::"log.disclose_key"
  ],
  resource
);
`;

export const DEFAULT_POLICIES = `// The default policy set: the seeds' rules. Change it by proposal and quorum (enclave policy propose).

@id("public-fields")
@reason("public fields are readable by every authenticated principal")
permit (principal, action == Enclave::Action::"record.read", resource)
when { !context.protected };

@id("service-reads")
@reason("a platform service whose role reads protected fields reads them for its configured purposes")
permit (principal is Enclave::Service, action == Enclave::Action::"record.read", resource)
when { context.role_reads_protected };

@id("service-purposes")
@reason("platform services act only for the purposes configured for them: state one in the Enclave-Purpose header")
forbid (principal is Enclave::Service, action, resource)
unless { context.service_purpose };

@id("gatekeeper-grant-reads")
@reason("gatekeeper staff read protected data only through an active grant that covers the subject, collection, fields and purpose")
permit (principal is Enclave::Gatekeeper, action == Enclave::Action::"record.read", resource)
when { context has grant && context.role_reads_protected };

@id("role-writes")
@reason("writes follow the configured roles, and protected fields only for roles that read them")
permit (
  principal,
  action in [Enclave::Action::"record.write", Enclave::Action::"record.delete"],
  resource
)
when { context.role_allows && (!context.protected || context.role_reads_protected) };

@id("role-subjects")
@reason("subject operations and sealing follow the configured roles")
permit (
  principal,
  action in [
    Enclave::Action::"subject.register",
    Enclave::Action::"subject.read",
    Enclave::Action::"subject.erase",
    Enclave::Action::"subject.rehome",
    Enclave::Action::"enclave.seal"
  ],
  resource
)
when { context.role_allows };

@id("role-log")
@reason("reading, searching and disclosing the transparency log follow the configured roles")
permit (
  principal,
  action in [Enclave::Action::"log.read", Enclave::Action::"log.search", Enclave::Action::"log.disclose_key"],
  resource
)
when { context.role_allows };

@id("provider-regulator-no-data")
@reason("the trusted provider and the regulator read the log and reports, not protected data")
forbid (principal, action, resource)
when { (principal is Enclave::Provider || principal is Enclave::Regulator) && context.protected };

@id("gatekeeper-requests-access")
@reason("gatekeeper staff whose role reads protected fields may request access to them")
permit (principal is Enclave::Gatekeeper, action == Enclave::Action::"access.request", resource)
when { context.role_reads_protected };

@id("break-glass-roles")
@reason("only the configured break-glass roles open emergency access")
permit (principal, action == Enclave::Action::"breakglass.open", resource)
when { context.breakglass_role };

@id("approvers-review")
@reason("members of the configured approver groups review requests, break-glass use and proposals")
permit (
  principal,
  action in [
    Enclave::Action::"access.review",
    Enclave::Action::"breakglass.review",
    Enclave::Action::"policy.approve",
    Enclave::Action::"token.approve"
  ],
  resource
)
when { context.approver };

@id("access-oversight")
@reason("the gatekeeper team and the approvers see and revoke access")
permit (
  principal,
  action in [Enclave::Action::"access.list", Enclave::Action::"access.revoke"],
  resource
)
when { principal is Enclave::Gatekeeper || context.approver };

@id("token-approvers-see-tokens")
@reason("whoever approves token changes sees the tokens and the proposals they are asked to approve")
permit (principal, action == Enclave::Action::"token.list", resource)
when { context.approver };

@id("gatekeeper-proposes")
@reason("the gatekeeper team proposes policies and tokens and lists tokens")
permit (
  principal is Enclave::Gatekeeper,
  action in [Enclave::Action::"policy.propose", Enclave::Action::"token.propose", Enclave::Action::"token.list"],
  resource
);

@id("policy-readable")
@reason("the active policy set is readable by every authenticated principal")
permit (principal, action == Enclave::Action::"policy.read", resource);

@id("own-tokens")
@reason("every principal may revoke their own tokens")
permit (principal, action == Enclave::Action::"token.revoke", resource);
`;
