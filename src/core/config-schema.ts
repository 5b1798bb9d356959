// The configuration file's schema (docs/configuration.md is its reference). Keys are snake_case as in YAML.
import { Type, type Static } from 'typebox';
import { MAX_SCOPE_SUBJECTS } from './access-scope.ts';
import { ID_PATTERN } from './api-ids.ts';
import { DURATION_PATTERN } from './duration.ts';

export const COUNTRY_PATTERN = '^[A-Z]{2}$';
const Id = Type.String({ pattern: ID_PATTERN });
const Country = Type.String({ pattern: COUNTRY_PATTERN });

export const SITE_ROLES = ['home', 'backup', 'legacy'] as const;
export const ORG_KINDS = ['gatekeeper', 'parent', 'provider', 'regulator', 'service'] as const;
export const FIELD_TYPES = ['string', 'integer', 'number', 'boolean', 'timestamp'] as const;
export const FIELD_CLASSES = ['protected', 'public'] as const;
/** Actions the decision point rules on. The gatekeeper (Cedar) issue keeps these names. */
export const ACTIONS = [
  'record.read',
  'record.write',
  'record.delete',
  'subject.register',
  'subject.read',
  'subject.erase',
  'subject.rehome',
  'enclave.seal',
  // the transparency log: checkpoint, tiles, proofs; search; disclosing the subject key (issue 4)
  'log.read',
  'log.search',
  'log.disclose_key',
] as const;
/**
 * The gatekeeper's own actions (issue 3). They are not listed in roles: the policy set decides them, with
 * the approver groups and break-glass roles of the `gatekeeper:` section as its inputs.
 */
export const GATEKEEPER_ACTIONS = [
  'access.request',
  'access.review',
  'access.list',
  'access.revoke',
  'breakglass.open',
  'breakglass.review',
  'policy.read',
  'policy.propose',
  'policy.approve',
  'token.list',
  'token.propose',
  'token.approve',
  'token.revoke',
] as const;
export const ROLE_REF_PATTERN = '^[a-z][a-z0-9_-]{0,62}/[a-z][a-z0-9_-]{0,62}$';
const Duration = Type.String({ pattern: DURATION_PATTERN, description: 'a whole number and a unit: 90s, 15m, 8h, 2d' });
const RoleRef = Type.String({ pattern: ROLE_REF_PATTERN, description: 'org/role' });

export const FieldSchema = Type.Object(
  {
    type: Type.Enum(FIELD_TYPES),
    class: Type.Enum(FIELD_CLASSES),
    required: Type.Optional(Type.Boolean()),
    max_length: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_048_576 })),
  },
  { additionalProperties: false },
);

export const CollectionSchema = Type.Object(
  {
    description: Type.Optional(Type.String()),
    subject: Type.String({ minLength: 1 }),
    fields: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' }), FieldSchema, {
      additionalProperties: false,
      minProperties: 1,
    }),
  },
  { additionalProperties: false },
);

export const RoleSchema = Type.Object(
  {
    id: Id,
    actions: Type.Array(Type.Enum(ACTIONS), { uniqueItems: true }),
    reads: Type.Enum(['public', 'protected']),
  },
  { additionalProperties: false },
);

/** k distinct approvers, each a member of one of the `from` groups, with at least n from each group in `require`. */
export const QuorumSchema = Type.Object(
  {
    k: Type.Integer({ minimum: 1, maximum: 100 }),
    from: Type.Array(Id, { minItems: 1, uniqueItems: true }),
    require: Type.Optional(Type.Record(Type.String({ pattern: ID_PATTERN }), Type.Integer({ minimum: 1, maximum: 100 }), { additionalProperties: false })),
  },
  { additionalProperties: false },
);

export const LogWitnessSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 128 }),
    url: Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048 }),
    vkey: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);

export const GatekeeperSchema = Type.Object(
  {
    purposes: Type.Array(Id, { minItems: 1, uniqueItems: true }),
    service_purposes: Type.Record(Type.String({ pattern: ROLE_REF_PATTERN }), Type.Array(Id, { uniqueItems: true }), { additionalProperties: false }),
    justification_codes: Type.Array(Id, { minItems: 1, uniqueItems: true }),
    min_justification_length: Type.Integer({ minimum: 1, maximum: 1000 }),
    max_grant_duration: Duration,
    request_expiry: Duration,
    groups: Type.Record(
      Type.String({ pattern: ID_PATTERN }),
      Type.Object(
        {
          roles: Type.Optional(Type.Array(RoleRef, { uniqueItems: true })),
          principals: Type.Optional(Type.Array(Id, { uniqueItems: true })),
        },
        { additionalProperties: false },
      ),
      { additionalProperties: false, minProperties: 1 },
    ),
    access_approval: QuorumSchema,
    policy_approval: QuorumSchema,
    token_approval: QuorumSchema,
    break_glass: Type.Object(
      {
        roles: Type.Array(RoleRef, { uniqueItems: true }),
        max_duration: Duration,
        // An emergency is a few people's data, briefly: wider access goes through an access request.
        max_subjects: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_SCOPE_SUBJECTS })),
        max_open: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
        // Uses not yet reviewed, open or not: without a review, no more break-glass for that principal.
        max_unreviewed: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
        review: Type.Object(
          {
            k: Type.Integer({ minimum: 1, maximum: 100 }),
            from: Type.Array(Id, { minItems: 1, uniqueItems: true }),
            require: Type.Optional(Type.Record(Type.String({ pattern: ID_PATTERN }), Type.Integer({ minimum: 1, maximum: 100 }), { additionalProperties: false })),
            within: Duration,
          },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
    bootstrap: Type.Object({ role: RoleRef }, { additionalProperties: false }),
    // Recovery of an independent approver org left with no approver token: org → RFC 3339 time before
    // which its approvers' tokens no longer count, so its next one is a bootstrap again (flagged).
    rebootstrap: Type.Optional(Type.Record(Type.String({ pattern: ID_PATTERN }), Type.String({ minLength: 1, maxLength: 64 }), { additionalProperties: false })),
  },
  { additionalProperties: false },
);

export const LogSchema = Type.Object(
  {
    storage: Type.Optional(Type.String({ minLength: 1 })),
    origin: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    checkpoint_interval_ms: Type.Optional(Type.Integer({ minimum: 50, maximum: 60_000 })),
    group_commit: Type.Optional(
      Type.Object(
        {
          max_batch: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
          max_queue: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
          // A commit not confirmed within this fails closed (log_unavailable) instead of holding requests.
          commit_timeout_ms: Type.Optional(Type.Integer({ minimum: 1_000, maximum: 600_000 })),
        },
        { additionalProperties: false },
      ),
    ),
    witnesses: Type.Optional(Type.Array(LogWitnessSchema, { maxItems: 64 })),
    witness_quorum: Type.Optional(Type.Integer({ minimum: 0, maximum: 64 })),
  },
  { additionalProperties: false },
);

export const ConfigSchema = Type.Object(
  {
    version: Type.Literal(1),
    name: Type.String({ minLength: 1, maxLength: 128 }),
    data_dir: Type.Optional(Type.String({ minLength: 1 })),
    server: Type.Optional(
      Type.Object(
        {
          host: Type.Optional(Type.String({ minLength: 1 })),
          port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
          max_body_bytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024 })),
          // V8 heap limits `enclave serve` runs with (Node's --max-old-space-size, --max-semi-space-size).
          max_old_space_mb: Type.Optional(Type.Integer({ minimum: 64, maximum: 65536 })),
          max_semi_space_mb: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
          // HTTPS on the API's own listener (RFC 8446/5246), so tokens and unseal shares never cross a
          // network hop in clear, a proxy's included.
          tls: Type.Optional(
            Type.Object(
              {
                cert_file: Type.String({ minLength: 1 }),
                key_file: Type.String({ minLength: 1 }),
                min_version: Type.Optional(Type.Union([Type.Literal('TLSv1.2'), Type.Literal('TLSv1.3')])),
                // Mutual TLS (RFC 8446 §4.3.2): only clients with a certificate these CAs issued connect.
                client_ca_file: Type.Optional(Type.String({ minLength: 1 })),
              },
              { additionalProperties: false },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    control: Type.Optional(
      Type.Object({ storage: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
    ),
    migration: Type.Optional(
      Type.Object({ state: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
    ),
    log: Type.Optional(LogSchema),
    seal: Type.Object(
      {
        // At least two: one person alone never holds the root key (invariant 6).
        threshold: Type.Integer({ minimum: 2, maximum: 255 }),
        officers: Type.Array(Id, { minItems: 2, maxItems: 255, uniqueItems: true }),
        // Each officer's age public key: init and rekey then hand out shares (and init's tokens) encrypted
        // to it, so whoever runs them never sees another officer's (invariant 6).
        recipients: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 4096 }))),
      },
      { additionalProperties: false },
    ),
    jurisdictions: Type.Array(
      Type.Object(
        {
          id: Id,
          countries: Type.Array(Country, { minItems: 1, uniqueItems: true }),
          home_site: Type.Optional(Id),
          backup_sites: Type.Optional(Type.Array(Id, { uniqueItems: true })),
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
    sites: Type.Array(
      Type.Object(
        {
          id: Id,
          operator: Id,
          country: Country,
          role: Type.Enum(SITE_ROLES),
          storage: Type.String({ minLength: 1 }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
    orgs: Type.Array(
      Type.Object(
        {
          id: Id,
          kind: Type.Enum(ORG_KINDS),
          description: Type.Optional(Type.String()),
          roles: Type.Array(RoleSchema, { minItems: 1 }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
    collections: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' }), CollectionSchema, {
      additionalProperties: false,
      minProperties: 1,
    }),
    gatekeeper: GatekeeperSchema,
  },
  { additionalProperties: false },
);

export type RawConfig = Static<typeof ConfigSchema>;
export type SiteRole = (typeof SITE_ROLES)[number];
export type OrgKind = (typeof ORG_KINDS)[number];
export type FieldType = (typeof FIELD_TYPES)[number];
export type FieldClass = (typeof FIELD_CLASSES)[number];
/** An action a role may be given in the configuration. */
export type RoleAction = (typeof ACTIONS)[number];
export type GatekeeperAction = (typeof GATEKEEPER_ACTIONS)[number];
/** Every action the decision point rules on. */
export type Action = RoleAction | GatekeeperAction;
export type RawGatekeeper = Static<typeof GatekeeperSchema>;
