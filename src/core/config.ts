// The validated configuration: the raw file checked against ConfigSchema, then cross-checked (references
// resolve, countries are unambiguous, no protected value is stored unencrypted), then indexed for lookups.
import { configDigests, type ConfigDigests } from './config-digest.ts';
import { compile } from './schema-validator.ts';
import { ConfigSchema, type RoleAction, type FieldClass, type FieldType, type OrgKind, type RawConfig, type SiteRole } from './config-schema.ts';
import { EnclaveError } from './errors.ts';
import { parseGatekeeper, type GatekeeperConfig } from './gatekeeper-config.ts';
import { cosignatureVerifierFromKey, repeatedWitnessKeys } from './tlog/cosignature.ts';
import { isValidKeyName } from './tlog/note.ts';

export interface FieldDef {
  readonly name: string;
  readonly type: FieldType;
  readonly class: FieldClass;
  readonly required: boolean;
  readonly maxLength: number | undefined;
}

export interface CollectionDef {
  readonly name: string;
  readonly subjectField: string;
  readonly fields: ReadonlyMap<string, FieldDef>;
  readonly protectedFields: readonly string[];
  readonly publicFields: readonly string[];
}

export interface SiteDef {
  readonly id: string;
  readonly operator: string;
  readonly country: string;
  readonly role: SiteRole;
  readonly storage: string;
}

export interface JurisdictionDef {
  readonly id: string;
  readonly countries: readonly string[];
  readonly homeSite: string | undefined;
  readonly backupSites: readonly string[];
}

export interface RoleDef {
  readonly id: string;
  readonly actions: ReadonlySet<RoleAction>;
  readonly reads: 'public' | 'protected';
}

export interface OrgDef {
  readonly id: string;
  readonly kind: OrgKind;
  readonly roles: ReadonlyMap<string, RoleDef>;
}

export interface LogWitnessDef {
  readonly name: string;
  readonly url: string;
  /** The witness's cosignature/v1 verifier key (C2SP signed-note vkey, type 0x04). */
  readonly vkey: string;
}

export interface LogConfig {
  readonly storage: string;
  /** Checkpoint origin line and the name of the log's key. */
  readonly origin: string;
  readonly checkpointIntervalMs: number;
  readonly maxBatch: number;
  readonly maxQueue: number;
  /** How long a commit may go unconfirmed before its batch and the queue behind it fail (log_unavailable). */
  readonly commitTimeoutMs: number;
  readonly witnesses: readonly LogWitnessDef[];
  /** Cosignatures a checkpoint needs before it is published. */
  readonly witnessQuorum: number;
}

export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly maxBodyBytes: number;
  /** V8's old-generation limit for `enclave serve`, MiB (Node's --max-old-space-size). */
  readonly maxOldSpaceMb: number;
  /** V8's semi-space size for `enclave serve`, MiB (Node's --max-semi-space-size; the young generation is a few of them). */
  readonly maxSemiSpaceMb: number;
  /** HTTPS for the API; undefined serves plain HTTP (for loopback, or behind a TLS proxy on the same host). */
  readonly tls: TlsConfig | undefined;
}

export interface TlsConfig {
  /** PEM: the server's certificate, then any intermediates. Relative paths are against the configuration file's directory. */
  readonly certFile: string;
  /** PEM: its private key (unencrypted). */
  readonly keyFile: string;
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
  /** PEM: the CAs whose client certificates are accepted; every client must present one (mutual TLS). */
  readonly clientCaFile?: string | undefined;
}

export interface EnclaveConfig {
  readonly name: string;
  readonly dataDir: string;
  readonly server: ServerConfig;
  readonly controlStorage: string;
  /** Where migrations keep their durable state (batches, ledger, verifications, certificates). */
  readonly migrationState: string;
  readonly log: LogConfig;
  readonly seal: {
    readonly threshold: number;
    readonly officers: readonly string[];
    /** Officer → age recipient (`age1…`): shares are handed out encrypted to it (crypto/officer-packet.ts). */
    readonly recipients?: Readonly<Record<string, string>>;
  };
  readonly jurisdictions: ReadonlyMap<string, JurisdictionDef>;
  /** country code → jurisdiction id */
  readonly countryIndex: ReadonlyMap<string, string>;
  readonly sites: ReadonlyMap<string, SiteDef>;
  readonly orgs: ReadonlyMap<string, OrgDef>;
  readonly collections: ReadonlyMap<string, CollectionDef>;
  readonly gatekeeper: GatekeeperConfig;
  /** A digest per governed section, which each unseal logs (config-digest.ts). */
  readonly digests: ConfigDigests;
}

/** Actions on protected data as a whole that the parent company may never take (invariant 2). */
// The transparency log's contents are metadata about every access to protected data (who, when, which
// subject's hash): the parent company reads none of it.
export const PARENT_FORBIDDEN_ACTIONS: ReadonlySet<RoleAction> = new Set<RoleAction>(['subject.erase', 'subject.rehome', 'enclave.seal', 'log.read', 'log.search', 'log.disclose_key']);

export const DEFAULTS = { host: '127.0.0.1', port: 8700, maxBodyBytes: 256 * 1024, maxOldSpaceMb: 128, maxSemiSpaceMb: 8, dataDir: 'data', control: 'sqlite:control.db', migrationState: 'sqlite:migration-state.db' } as const;
export const LOG_DEFAULTS = { storage: 'sqlite:log.db', checkpointIntervalMs: 500, maxBatch: 10_000, maxQueue: 100_000, commitTimeoutMs: 30_000 } as const;

/** The default checkpoint origin: derived from the enclave's name (set log.origin to the log's URL prefix). */
export function defaultLogOrigin(name: string): string {
  const slug = name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '');
  return `enclave/${slug === '' ? 'log' : slug}`;
}

function parseLog(raw: RawConfig, problems: string[]): LogConfig {
  const log = raw.log ?? {};
  const origin = log.origin ?? defaultLogOrigin(raw.name);
  // The origin is also the log key's name (C2SP signed-note: no spaces, no "+").
  if (!isValidKeyName(origin)) problems.push('log.origin must be one line without spaces or "+" (it names the log\'s key), e.g. log.example.com/enclave');
  const witnesses = log.witnesses ?? [];
  const names = new Set<string>();
  witnesses.forEach((w, i) => {
    if (names.has(w.name)) problems.push(`log.witnesses[${i}].name "${w.name}" is listed twice`);
    names.add(w.name);
    try {
      if (cosignatureVerifierFromKey(w.vkey).name !== w.name) problems.push(`log.witnesses[${i}].vkey is the key of another name than "${w.name}"`);
    } catch (err) {
      problems.push(`log.witnesses[${i}].vkey is not a cosignature/v1 verifier key: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  // One witness, one key, whatever the names (a cosignature does not commit to one).
  for (const { index, first } of repeatedWitnessKeys(witnesses.map((w) => w.vkey))) {
    problems.push(`log.witnesses[${index}].vkey is the same public key as log.witnesses[${first}].vkey: one witness would count twice towards log.witness_quorum`);
  }
  const quorum = log.witness_quorum ?? 0;
  if (quorum > witnesses.length) problems.push(`log.witness_quorum (${quorum}) must not exceed the number of log.witnesses (${witnesses.length})`);
  return {
    storage: log.storage ?? LOG_DEFAULTS.storage,
    origin,
    checkpointIntervalMs: log.checkpoint_interval_ms ?? LOG_DEFAULTS.checkpointIntervalMs,
    maxBatch: log.group_commit?.max_batch ?? LOG_DEFAULTS.maxBatch,
    maxQueue: log.group_commit?.max_queue ?? LOG_DEFAULTS.maxQueue,
    commitTimeoutMs: log.group_commit?.commit_timeout_ms ?? LOG_DEFAULTS.commitTimeoutMs,
    witnesses: witnesses.map((w) => ({ name: w.name, url: w.url, vkey: w.vkey })),
    witnessQuorum: quorum,
  };
}

const validateRaw = compile(ConfigSchema);

function fail(problems: readonly string[], source: string): never {
  const head = problems.length === 1 ? problems[0] : `${problems.length} problems:\n  - ${problems.join('\n  - ')}`;
  throw new EnclaveError('invalid_config', `${source}: ${head}`, { details: { problems } });
}

/** Validates an already-parsed document (YAML → plain data). `source` names the file in messages. */
export function parseConfig(doc: unknown, source = 'configuration'): EnclaveConfig {
  const issues = validateRaw.issues(doc);
  if (issues.length > 0) fail(issues.map((i) => `${i.path} ${i.message}`), source);
  const raw = doc as RawConfig;
  const problems: string[] = [];

  const sites = new Map<string, SiteDef>();
  raw.sites.forEach((s, i) => {
    if (sites.has(s.id)) problems.push(`sites[${i}].id "${s.id}" is defined twice`);
    sites.set(s.id, { id: s.id, operator: s.operator, country: s.country, role: s.role, storage: s.storage });
  });

  const orgs = new Map<string, OrgDef>();
  raw.orgs.forEach((o, i) => {
    if (orgs.has(o.id)) problems.push(`orgs[${i}].id "${o.id}" is defined twice`);
    const roles = new Map<string, RoleDef>();
    o.roles.forEach((r, j) => {
      if (roles.has(r.id)) problems.push(`orgs[${i}].roles[${j}].id "${r.id}" is defined twice in org "${o.id}"`);
      // Invariant 2: the parent company never receives a protected value; refuse a config that says otherwise.
      if (o.kind === 'parent' && r.reads === 'protected') {
        problems.push(`orgs[${i}].roles[${j}].reads must be "public": org "${o.id}" is the parent company, which may never read protected fields`);
      }
      if (o.kind === 'parent') {
        for (const a of r.actions.filter((x) => PARENT_FORBIDDEN_ACTIONS.has(x))) {
          problems.push(`orgs[${i}].roles[${j}].actions must not include ${a}: org "${o.id}" is the parent company, which may not move, erase or seal protected data, nor read the transparency log`);
        }
      }
      roles.set(r.id, { id: r.id, actions: new Set(r.actions), reads: r.reads });
    });
    orgs.set(o.id, { id: o.id, kind: o.kind, roles });
  });
  // Invariants 1 and 2: a jurisdiction's data lives at its home and backup sites, out of the parent
  // company's reach; the parent operates legacy sites only (where migration reads from and purges).
  const uses = new Map<string, string[]>();
  for (const j of raw.jurisdictions) {
    if (j.home_site !== undefined) uses.set(j.home_site, [...(uses.get(j.home_site) ?? []), `the home site of jurisdiction "${j.id}"`]);
    for (const b of j.backup_sites ?? []) uses.set(b, [...(uses.get(b) ?? []), `a backup site of jurisdiction "${j.id}"`]);
  }
  raw.sites.forEach((s, i) => {
    const operator = orgs.get(s.operator);
    if (!operator) problems.push(`sites[${i}].operator "${s.operator}" is not an org id (expected one of: ${[...orgs.keys()].join(', ')})`);
    else if (operator.kind === 'parent' && s.role !== 'legacy') {
      const what = uses.get(s.id)?.join(' and ') ?? `a ${s.role} site`;
      problems.push(`sites[${i}].operator "${s.operator}" is the parent company, which must never hold a jurisdiction's data, but site "${s.id}" is ${what}; only a legacy site may be operated by it`);
    }
  });

  const jurisdictions = new Map<string, JurisdictionDef>();
  const countryIndex = new Map<string, string>();
  raw.jurisdictions.forEach((j, i) => {
    if (jurisdictions.has(j.id)) problems.push(`jurisdictions[${i}].id "${j.id}" is defined twice`);
    for (const c of j.countries) {
      const other = countryIndex.get(c);
      if (other !== undefined) problems.push(`jurisdictions[${i}].countries: ${c} already belongs to jurisdiction "${other}"`);
      else countryIndex.set(c, j.id);
    }
    const checkSite = (siteId: string, key: string, role: SiteRole) => {
      const site = sites.get(siteId);
      if (!site) problems.push(`jurisdictions[${i}].${key} "${siteId}" is not a site id`);
      else if (site.role !== role) problems.push(`jurisdictions[${i}].${key} "${siteId}" has role "${site.role}", expected "${role}"`);
      else if (!j.countries.includes(site.country)) {
        problems.push(`jurisdictions[${i}].${key} "${siteId}" is in ${site.country}, outside jurisdiction "${j.id}" (${j.countries.join(', ')})`);
      }
    };
    if (j.home_site !== undefined) checkSite(j.home_site, 'home_site', 'home');
    (j.backup_sites ?? []).forEach((b, k) => checkSite(b, `backup_sites[${k}]`, 'backup'));
    jurisdictions.set(j.id, { id: j.id, countries: j.countries, homeSite: j.home_site, backupSites: j.backup_sites ?? [] });
  });
  const homeOwners = new Map<string, string>();
  for (const j of jurisdictions.values()) {
    if (j.homeSite === undefined) continue;
    const owner = homeOwners.get(j.homeSite);
    if (owner !== undefined) problems.push(`site "${j.homeSite}" is the home site of both "${owner}" and "${j.id}"`);
    homeOwners.set(j.homeSite, j.id);
  }

  const collections = new Map<string, CollectionDef>();
  for (const [name, c] of Object.entries(raw.collections)) {
    const fields = new Map<string, FieldDef>();
    for (const [fname, f] of Object.entries(c.fields)) {
      if (f.max_length !== undefined && f.type !== 'string') {
        problems.push(`collections.${name}.fields.${fname}.max_length applies only to type string`);
      }
      fields.set(fname, { name: fname, type: f.type, class: f.class, required: f.required ?? true, maxLength: f.max_length });
    }
    const subject = fields.get(c.subject);
    if (!subject) problems.push(`collections.${name}.subject "${c.subject}" is not one of its fields`);
    else {
      if (subject.type !== 'string') problems.push(`collections.${name}.fields.${c.subject}.type must be "string": it names the subject`);
      // The subject id is stored as a plain index column, so it must not be a protected value (invariant 3).
      if (subject.class !== 'public') problems.push(`collections.${name}.fields.${c.subject}.class must be "public": the subject id is stored unencrypted to route and index records`);
      if (!subject.required) problems.push(`collections.${name}.fields.${c.subject}.required must be true: every record names its subject`);
    }
    const all = [...fields.values()];
    collections.set(name, {
      name,
      subjectField: c.subject,
      fields,
      protectedFields: all.filter((f) => f.class === 'protected').map((f) => f.name),
      publicFields: all.filter((f) => f.class === 'public').map((f) => f.name),
    });
  }

  const officers = raw.seal.officers;
  if (raw.seal.threshold > officers.length) {
    problems.push(`seal.threshold (${raw.seal.threshold}) must not exceed the number of seal.officers (${officers.length})`);
  }
  const recipients = raw.seal.recipients;
  if (recipients !== undefined) problems.push(...recipientProblems(recipients, officers));

  const gatekeeper = parseGatekeeper(raw.gatekeeper, { orgs }, problems);
  const log = parseLog(raw, problems);

  if (problems.length > 0) fail(problems, source);
  return {
    name: raw.name,
    dataDir: raw.data_dir ?? DEFAULTS.dataDir,
    server: {
      host: raw.server?.host ?? DEFAULTS.host,
      port: raw.server?.port ?? DEFAULTS.port,
      maxBodyBytes: raw.server?.max_body_bytes ?? DEFAULTS.maxBodyBytes,
      maxOldSpaceMb: raw.server?.max_old_space_mb ?? DEFAULTS.maxOldSpaceMb,
      maxSemiSpaceMb: raw.server?.max_semi_space_mb ?? DEFAULTS.maxSemiSpaceMb,
      tls: raw.server?.tls === undefined ? undefined : { certFile: raw.server.tls.cert_file, keyFile: raw.server.tls.key_file, minVersion: raw.server.tls.min_version ?? 'TLSv1.2', clientCaFile: raw.server.tls.client_ca_file },
    },
    controlStorage: raw.control?.storage ?? DEFAULTS.control,
    migrationState: raw.migration?.state ?? DEFAULTS.migrationState,
    log,
    seal: { threshold: raw.seal.threshold, officers, ...(recipients === undefined ? {} : { recipients }) },
    jurisdictions,
    countryIndex,
    sites,
    orgs,
    collections,
    gatekeeper,
    digests: configDigests(raw),
  };
}

export function homeSites(config: EnclaveConfig): SiteDef[] {
  return [...config.sites.values()].filter((s) => s.role === 'home');
}

/** An age recipient as age prints it: `age1` and Bech32 data (BIP 173's alphabet, lower case). Checked fully where it is used. */
const AGE_RECIPIENT = /^age1[02-9ac-hj-np-z]{20,}$/;

/** Every officer has exactly one age recipient, or none has: a share handed out in clear beside encrypted ones would defeat them. */
function recipientProblems(recipients: Readonly<Record<string, string>>, officers: readonly string[]): string[] {
  const problems: string[] = [];
  for (const [officer, recipient] of Object.entries(recipients)) {
    if (!officers.includes(officer)) problems.push(`seal.recipients.${officer}: not one of seal.officers (${officers.join(', ')})`);
    else if (!AGE_RECIPIENT.test(recipient)) problems.push(`seal.recipients.${officer}: expected an age public key (age1…, as \`enclave officer keygen\` or age-keygen prints it)`);
  }
  const missing = officers.filter((o) => recipients[o] === undefined);
  if (missing.length > 0) problems.push(`seal.recipients: every officer needs one (missing: ${missing.join(', ')}), or remove the section to hand out shares in clear`);
  return problems;
}
