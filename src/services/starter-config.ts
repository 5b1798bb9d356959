// The commented starter configuration `enclave init` writes. It is also the demo's configuration.
import { defaultLogOrigin, LOG_DEFAULTS } from '../core/config.ts';

export interface StarterOptions {
  readonly name?: string;
  readonly officers?: readonly string[];
  readonly threshold?: number;
  readonly port?: number;
  /** Officer → age public key (seal.recipients). */
  readonly recipients?: Readonly<Record<string, string>>;
}

export function starterConfig(options: StarterOptions = {}): string {
  const officers = options.officers ?? ['alice', 'bob', 'carol'];
  const threshold = options.threshold ?? 2;
  const name = options.name ?? 'enclave';
  return `# Enclave configuration. Reference: docs/configuration.md
version: 1
name: ${name}
# Where the stores live, relative to this file.
data_dir: data

server:
  host: 127.0.0.1
  port: ${options.port ?? 8700}
  # Larger request bodies are refused with 413 payload_too_large.
  max_body_bytes: 262144
  # V8 heap limits of \`enclave serve\` in MiB (Node's --max-old-space-size and --max-semi-space-size);
  # raise the first with max_body_bytes: a body is held as text and as parsed objects.
  max_old_space_mb: 128
  max_semi_space_mb: 8
  # HTTPS on this listener (PEM files, paths relative to this file; SIGHUP reloads them). Without it the
  # API is plain HTTP: keep it on 127.0.0.1 or behind a TLS proxy on this host, as bearer tokens and
  # unseal shares cross every hop readable.
  # tls:
  #   cert_file: tls/server.crt   # the certificate, then any intermediates
  #   key_file: tls/server.key    # unencrypted; chmod 600
  #   min_version: TLSv1.2        # or TLSv1.3

# The control store keeps principals, token hashes and the seal record.
control:
  storage: sqlite:control.db

# The transparency log: every decision on protected data and every change, in an RFC 9162 Merkle tree
# served as a C2SP tlog-tiles log at /log, with a signed checkpoint at least every interval.
log:
  storage: ${LOG_DEFAULTS.storage}
  # The checkpoint origin, also the name of the log's key. It is the log's identity: choose it before
  # the first unseal (ideally the log's URL prefix without the scheme) and never change it.
  origin: ${defaultLogOrigin(name)}
  checkpoint_interval_ms: ${LOG_DEFAULTS.checkpointIntervalMs}
  # Witnesses that cosign each checkpoint (C2SP tlog-witness), e.g. the trusted provider's
  # \`enclave witness serve\`; a checkpoint is published once witness_quorum of them cosigned it.
  # witnesses:
  #   - { name: <witness key name>, url: https://witness.example, vkey: <its verifier key> }
  witness_quorum: 0

# The root key is split into one Shamir share per officer; \`threshold\` of them unseal the enclave.
seal:
  threshold: ${threshold}
  officers: [${officers.join(', ')}]
${recipientsSection(options.recipients)}

# A subject's residence country decides their jurisdiction, and the jurisdiction's home site is the only
# place their records are stored. A country in no jurisdiction is refused, never stored by default.
jurisdictions:
  - id: us
    countries: [US, PR, GU, VI, AS, MP]
    home_site: trusted-us
  - id: eu
    countries: [AT, BE, BG, HR, CY, CZ, DK, EE, FI, FR, DE, GR, HU, IE, IT, LV, LT, LU, MT, NL, PL, PT, RO, SK, SI, ES, SE]
    home_site: eu-central

# Places data can live. role: home (the trusted in-jurisdiction store), backup, or legacy (the parent's
# old data centers, sources of migration). storage: sqlite:<path> relative to data_dir, or
# postgres://user@host:5432/database?schema=name (docs/postgresql.md); each home site its own.
sites:
  - id: trusted-us
    operator: trusted-provider
    country: US
    role: home
    storage: sqlite:sites/trusted-us.db
  - id: eu-central
    operator: trusted-provider
    country: DE
    role: home
    storage: sqlite:sites/eu-central.db
  - id: virginia
    operator: parent
    country: US
    role: legacy
    storage: sqlite:legacy/virginia.db
  - id: singapore
    operator: parent
    country: SG
    role: legacy
    storage: sqlite:legacy/singapore.db

# Who asks. kind: gatekeeper | parent | provider | regulator | service. A role lists the actions it may
# take and whether it may read protected fields. The parent company's roles can only read public fields.
orgs:
  - id: gatekeeper
    kind: gatekeeper
    description: the autonomous local data security team
    roles:
      - id: officer
        actions: [record.read, record.write, record.delete, subject.register, subject.read, subject.erase, subject.rehome, enclave.seal, log.read, log.search, log.disclose_key]
        reads: protected
      - id: approver
        actions: [record.read, subject.read, log.read, log.search]
        reads: public
  - id: platform
    kind: service
    description: the app's own services
    roles:
      - id: service
        actions: [record.read, record.write, record.delete, subject.register, subject.read]
        reads: protected
  - id: parent
    kind: parent
    description: the foreign parent company
    roles:
      - id: engineer
        actions: [record.read, subject.read]
        reads: public
  - id: trusted-provider
    kind: provider
    description: hosts the home sites and witnesses the log
    roles:
      - id: monitor
        actions: [subject.read, log.read, log.search]
        reads: public
  - id: regulator
    kind: regulator
    description: verifies the log, certificates and reports
    roles:
      - id: auditor
        actions: [subject.read, log.read, log.search]
        reads: public

# The gatekeeper (docs/gatekeeper.md). Who may read protected data, and how, is decided by the Cedar
# policy set (\`enclave policy show\`); this section gives it its inputs and sets the approval rules.
gatekeeper:
  # Purposes a request may state (header Enclave-Purpose; the purpose of an access request).
  purposes: [account, messaging, recommendations, support, security, legal, migration]
  # Platform services act only for these purposes: a request without one of them is refused.
  service_purposes:
    platform/service: [account, messaging, recommendations, migration]
  # An access request names one of these codes and explains itself in at least
  # min_justification_length characters of free text.
  justification_codes: [support-ticket, security-incident, legal-order, data-subject-request]
  min_justification_length: 20
  # Durations: a whole number and a unit, e.g. 90s, 15m, 8h, 2d.
  max_grant_duration: 8h
  # A request nobody approved in this time expires.
  request_expiry: 24h
  # Approver groups: holders of these roles (org/role) and/or these named principals.
  groups:
    gatekeepers: { roles: [gatekeeper/officer, gatekeeper/approver] }
    monitors: { roles: [trusted-provider/monitor] }
  # k distinct approvers from the \`from\` groups, with at least n from each group in \`require\`.
  # The requester or proposer never counts, so at least two people are always involved.
  access_approval: { k: 2, from: [gatekeepers, monitors], require: { gatekeepers: 1, monitors: 1 } }
  policy_approval: { k: 2, from: [gatekeepers] }
  token_approval: { k: 2, from: [gatekeepers] }
  # Emergency access without prior approval: short, flagged everywhere, reviewed afterwards.
  break_glass:
    roles: [gatekeeper/officer]
    max_duration: 1h
    # An emergency is a few people's data: a break-glass names at most this many subjects (never
    # whole collections), and one principal holds at most max_open at once and has at most
    # max_unreviewed (default 3, at least max_open) uses awaiting their review. Wider: an access request.
    max_subjects: 10
    max_open: 1
    review: { k: 2, from: [gatekeepers, monitors], require: { monitors: 1 }, within: 24h }
  # \`enclave init\` gives each seal officer a first token with this role; every later token needs
  # token_approval.
  bootstrap: { role: gatekeeper/officer }

# Every field is classified protected (encrypted at rest, withheld from the parent) or public.
# \`subject\` names the field holding the subject id (it must be a public string).
collections:
  users:
    subject: user_id
    fields:
      user_id: { type: string, class: public, max_length: 64 }
      username: { type: string, class: public, max_length: 64 }
      email: { type: string, class: protected, max_length: 320 }
      phone: { type: string, class: protected, max_length: 32, required: false }
      birthdate: { type: string, class: protected, max_length: 10, required: false }
  messages:
    subject: sender_id
    fields:
      sender_id: { type: string, class: public, max_length: 64 }
      recipient_id: { type: string, class: protected, max_length: 64 }
      body: { type: string, class: protected, max_length: 4000 }
      sent_at: { type: timestamp, class: protected }
  devices:
    subject: user_id
    fields:
      user_id: { type: string, class: public, max_length: 64 }
      model: { type: string, class: protected, max_length: 128 }
      os: { type: string, class: protected, max_length: 64 }
      ip_address: { type: string, class: protected, max_length: 45 }
      location: { type: string, class: protected, max_length: 128, required: false }
  watch_history:
    subject: user_id
    fields:
      user_id: { type: string, class: public, max_length: 64 }
      video_id: { type: string, class: protected, max_length: 64 }
      watched_at: { type: timestamp, class: protected }
      seconds: { type: integer, class: protected }
  videos:
    subject: owner_id
    fields:
      owner_id: { type: string, class: public, max_length: 64 }
      title: { type: string, class: public, max_length: 200 }
      views: { type: integer, class: public }
      published_at: { type: timestamp, class: public }
  comments:
    subject: author_id
    fields:
      author_id: { type: string, class: public, max_length: 64 }
      video_id: { type: string, class: public, max_length: 64 }
      text: { type: string, class: public, max_length: 2000 }
      posted_at: { type: timestamp, class: public }
`;
}

/** seal.recipients when given; otherwise the same, commented, as a hint. */
function recipientsSection(recipients: Readonly<Record<string, string>> | undefined): string {
  if (recipients === undefined) {
    return `  # Each officer's age public key (\`enclave officer keygen\`): init and rekey then encrypt every share
  # to its officer, so whoever runs them reads none (\`enclave unseal --identity\` opens yours).
  # recipients:
  #   alice: age1…`;
  }
  return `  # Each officer's age public key: init and rekey encrypt every share to its officer.
  recipients:
${Object.entries(recipients)
  .map(([officer, key]) => `    ${officer}: ${key}`)
  .join('\n')}`;
}
