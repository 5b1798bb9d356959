// Request and response schemas of the gatekeeper's routes (access requests, grants, break-glass,
// policies, change proposals, tokens). Responses are schemas too: the serializer sends only what they
// name, and /openapi.json publishes them.
import { Type } from 'typebox';
import { GRANT_ID_PATTERN, ID_PATTERN, PROPOSAL_ID_PATTERN, PROPOSAL_STATES, RECORD_ID_PATTERN, REQUEST_ID_PATTERN, REQUEST_STATES, TOKEN_ID_PATTERN } from '../core/api-ids.ts';
import { MAX_SCOPE_SUBJECTS } from '../core/access-scope.ts';
import { MAX_DESCRIPTION } from '../services/change-service.ts';
import { MAX_POLICY_TEXT } from '../services/policy-engine.ts';
import { MAX_COMMENT } from '../services/verdicts.ts';

const Timestamp = Type.String({ format: 'date-time' });
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Id = Type.String({ pattern: ID_PATTERN });
const Digest = Type.String({ pattern: '^sha256:[0-9a-f]{64}$', description: 'The content digest shown in the request or proposal: what you approve.' });
/**
 * Free text a person writes (comments, justifications, labels, descriptions): anything but U+0000, which
 * PostgreSQL's text cannot hold. Refused here, before the change's log entry is written, on every store.
 */
const FreeText = (maxLength: number, options: { minLength?: number; description?: string } = {}) => Type.String({ ...options, maxLength, pattern: '^[^\\u0000]*$' });
const Comment = FreeText(MAX_COMMENT);
const FieldRef = Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}\\.[a-z][a-z0-9_]{0,62}$', description: 'collection.field' });

export const RequestId = Type.String({ pattern: REQUEST_ID_PATTERN });
export const GrantId = Type.String({ pattern: GRANT_ID_PATTERN });
export const ProposalId = Type.String({ pattern: PROPOSAL_ID_PATTERN });
export const TokenId = Type.String({ pattern: TOKEN_ID_PATTERN });

const Scope = Type.Object(
  {
    subjects: Type.Array(Type.String({ pattern: RECORD_ID_PATTERN }), { maxItems: MAX_SCOPE_SUBJECTS, description: 'Subject ids; empty or absent: every subject of the collections named.' }),
    collections: Type.Array(Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' }), { maxItems: 100 }),
    fields: Type.Array(FieldRef, { maxItems: 1000, description: 'Protected fields; empty or absent: every protected field of the scope.' }),
  },
  { additionalProperties: false },
);

export const AccessRequestBody = Type.Object(
  {
    scope: Type.Partial(Scope, { additionalProperties: false }),
    purpose: Id,
    justification: Type.Object({ code: Id, text: FreeText(2000) }, { additionalProperties: false }),
    duration_seconds: Type.Integer({ minimum: 1, maximum: 90 * 86_400 }),
  },
  { additionalProperties: false },
);

export const VerdictBody = Type.Object({ digest: Digest, comment: Type.Optional(Comment) }, { additionalProperties: false });

export const ReviewBody = Type.Object(
  { digest: Digest, verdict: Type.Enum(['justified', 'unjustified'], { description: 'unjustified revokes the grant at once' }), comment: Type.Optional(Comment) },
  { additionalProperties: false },
);

export const PolicyProposalBody = Type.Object(
  { text: FreeText(MAX_POLICY_TEXT, { minLength: 1, description: 'A whole Cedar policy set; every policy needs an @id.' }), description: Type.Optional(FreeText(MAX_DESCRIPTION)) },
  { additionalProperties: false },
);

export const TokenProposalBody = Type.Object(
  {
    principal: Id,
    org: Id,
    role: Id,
    ttl_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 * 365 * 86_400 })),
    label: Type.Optional(FreeText(200)),
  },
  { additionalProperties: false },
);

export const LimitQuery = Type.Optional(Type.String({ pattern: '^(?:[1-9][0-9]{0,2}|1000)$', description: 'How many, 1 to 1000 (default 100).' }));

const Verdict = Type.Object({
  approver: Type.String(),
  org: Type.String(),
  role: Type.String(),
  verdict: Type.Enum(['approve', 'deny']),
  comment: Type.String(),
  at: Timestamp,
  counts: Type.Boolean(),
});
const Quorum = Type.Object({ k: Type.Integer(), met: Type.Boolean(), missing: Type.String() });
const Who = Type.Object({ id: Type.String(), org: Type.String(), role: Type.String() });

export const AccessRequestView = Type.Object(
  {
    id: Type.String(),
    kind: Type.Enum(['access', 'breakglass']),
    requester: Who,
    scope: Scope,
    reaches: Type.Array(Type.String(), { description: 'Every protected field (collection.field) the scope reaches.' }),
    purpose: Type.String(),
    justification: Type.Object({ code: Type.String(), text: Type.String() }),
    duration_seconds: Type.Integer(),
    digest: Type.String(),
    created_at: Timestamp,
    expires_at: Type.String({ format: 'date-time', description: 'A pending request expires then; for break-glass, the review deadline.' }),
    status: Type.Enum(REQUEST_STATES),
    decided_at: Nullable(Timestamp),
    grant: Nullable(Type.String()),
    approvals: Type.Array(Verdict),
    quorum: Quorum,
    review: Type.Optional(Type.Enum(['awaiting-review', 'reviewed', 'overdue', 'unjustified'])),
  },
  { $id: 'AccessRequest' },
);

export const GrantView = Type.Object(
  {
    id: Type.String(),
    request: Type.String(),
    principal: Type.String(),
    scope: Scope,
    purpose: Type.String(),
    breakglass: Type.Boolean(),
    created_at: Timestamp,
    expires_at: Timestamp,
    revoked_at: Nullable(Timestamp),
    revoked_by: Nullable(Type.String()),
    state: Type.Enum(['active', 'expired', 'revoked']),
  },
  { $id: 'Grant' },
);

export const ProposalView = Type.Object(
  {
    id: Type.String(),
    kind: Type.Enum(['policy', 'token.issue', 'token.revoke']),
    proposer: Who,
    policy: Type.Optional(
      Type.Object({
        text: Type.String(),
        description: Type.String(),
        diff: Type.Object({
          base_version: Type.Integer(),
          active_version: Type.Integer(),
          added: Type.Array(Type.String()),
          removed: Type.Array(Type.String()),
          changed: Type.Array(Type.String()),
          text: Type.String({ description: 'Unified diff of the base version against the proposed text.' }),
        }),
      }),
    ),
    token: Type.Optional(
      Type.Object({ principal: Type.String(), org: Type.String(), role: Type.String(), label: Type.String(), ttl_seconds: Type.Union([Type.Integer(), Type.Null()]), token_id: Type.String() }),
    ),
    revoke: Type.Optional(Type.Object({ token_id: Type.String(), principal: Type.String() })),
    digest: Type.String(),
    created_at: Timestamp,
    expires_at: Timestamp,
    status: Type.Enum(PROPOSAL_STATES),
    decided_at: Nullable(Timestamp),
    outcome: Nullable(Type.String()),
    approvals: Type.Array(Verdict),
    quorum: Quorum,
    org_approval: Type.Optional(
      Type.Object(
        { org: Type.String(), first_of_org: Type.Boolean(), approved_by: Nullable(Type.String()) },
        {
          description:
            'A token for a principal of an independent approver org (e.g. the trusted provider) also needs an approval from that org; first_of_org: none of its approvers had ever held a token, so token_approval alone issues it (the bootstrap).',
        },
      ),
    ),
  },
  { $id: 'Proposal' },
);

const VersionFields = {
  version: Type.Integer(),
  digest: Type.String(),
  proposal: Nullable(Type.String()),
  approvers: Type.Array(Type.String()),
  activated_at: Timestamp,
};
export const PolicyVersionView = Type.Object(VersionFields);
export const PolicyVersionWithText = Type.Object({ ...VersionFields, text: Type.String() });

export const TokenView = Type.Object({
  id: Type.String(),
  principal: Type.String(),
  org: Type.String(),
  role: Type.String(),
  label: Type.String(),
  state: Type.Enum(['active', 'revoked', 'expired']),
  created_at: Timestamp,
  expires_at: Nullable(Timestamp),
  revoked_at: Nullable(Timestamp),
  replaces: Nullable(Type.String({ description: 'The token this one replaced by rotation; revoking either ends the one in force.' })),
});
