// The configuration: the starter file is valid, and every malformed document is refused with
// invalid_config and a message that names the offending key, never a crash (invariant 7).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parse } from 'yaml';
import { DEFAULTS, parseConfig } from '../../src/core/config.ts';
import { EnclaveError } from '../../src/core/errors.ts';
import { loadConfig, parseConfigText } from '../../src/services/config-loader.ts';
import { starterConfig } from '../../src/services/starter-config.ts';

type Doc = Record<string, unknown>;
type Path = readonly (string | number)[];

/** The starter configuration as plain data; each call returns a fresh copy to mutate. */
function starter(): Doc {
  return parse(starterConfig()) as Doc;
}

function get(doc: unknown, path: Path): unknown {
  let node = doc;
  for (const k of path) node = (node as Record<string | number, unknown>)[k];
  return node;
}
/** The container holding the last key of `path`, and that key. */
function parent(doc: unknown, path: Path): [Record<string | number, unknown>, string | number] {
  const last = path.at(-1);
  assert.ok(last !== undefined, 'a non-empty path');
  return [get(doc, path.slice(0, -1)) as Record<string | number, unknown>, last];
}
function set(doc: unknown, path: Path, value: unknown): void {
  const [node, key] = parent(doc, path);
  node[key] = value;
}
function del(doc: unknown, path: Path): void {
  const [node, key] = parent(doc, path);
  if (Array.isArray(node) && typeof key === 'number') node.splice(key, 1);
  else delete node[key];
}
function push(doc: unknown, path: Path, value: unknown): void {
  (get(doc, path) as unknown[]).push(value);
}

function invalidConfig(fn: () => unknown, ...mentions: string[]): EnclaveError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof EnclaveError, `expected EnclaveError('invalid_config'), got ${String(caught)}`);
  assert.equal(caught.code, 'invalid_config');
  for (const m of mentions) assert.ok(caught.message.includes(m), `message ${JSON.stringify(caught.message)} should mention ${JSON.stringify(m)}`);
  return caught;
}

void describe('the starter configuration', () => {
  void it('is valid and describes the demo: two jurisdictions, each with its home site', () => {
    const c = parseConfig(parse(starterConfig()), 'enclave.yaml');
    assert.equal(c.name, 'enclave');
    assert.deepEqual([...c.jurisdictions.keys()], ['us', 'eu']);
    assert.equal(c.jurisdictions.get('us')?.homeSite, 'trusted-us');
    assert.equal(c.jurisdictions.get('eu')?.homeSite, 'eu-central');
    assert.equal(c.countryIndex.get('DE'), 'eu');
    assert.equal(c.countryIndex.get('PR'), 'us');
    assert.equal(c.sites.get('virginia')?.role, 'legacy');
    assert.equal(c.orgs.get('parent')?.kind, 'parent');
    assert.deepEqual(c.seal, { threshold: 2, officers: ['alice', 'bob', 'carol'] });
    const users = c.collections.get('users');
    assert.ok(users);
    assert.equal(users.subjectField, 'user_id');
    assert.deepEqual(users.protectedFields, ['email', 'phone', 'birthdate']);
    assert.deepEqual(users.publicFields, ['user_id', 'username']);
    assert.equal(users.fields.get('phone')?.required, false);
    assert.equal(users.fields.get('email')?.required, true, 'required defaults to true');
    assert.equal(users.fields.get('email')?.maxLength, 320);
  });

  void it('honours the starter options', () => {
    const c = parseConfig(parse(starterConfig({ name: 'acme', officers: ['ann', 'ben', 'cal', 'dee'], threshold: 3, port: 9000 })));
    assert.equal(c.name, 'acme');
    assert.deepEqual(c.seal, { threshold: 3, officers: ['ann', 'ben', 'cal', 'dee'] });
    assert.equal(c.server.port, 9000);
  });

  void it('every protected field the demo needs is classified protected, every subject field public', () => {
    const c = parseConfig(starter());
    for (const coll of c.collections.values()) {
      assert.equal(coll.fields.get(coll.subjectField)?.class, 'public', `${coll.name}.${coll.subjectField}`);
    }
    const classOf = (coll: string, f: string) => c.collections.get(coll)?.fields.get(f)?.class;
    for (const [coll, f] of [['users', 'email'], ['users', 'phone'], ['messages', 'body'], ['devices', 'location'], ['devices', 'ip_address'], ['watch_history', 'video_id']]) {
      assert.equal(classOf(coll ?? '', f ?? ''), 'protected', `${String(coll)}.${String(f)}`);
    }
  });

  void it('applies defaults for the optional sections', () => {
    const d = starter();
    del(d, ['server']);
    del(d, ['control']);
    del(d, ['data_dir']);
    const c = parseConfig(d);
    assert.deepEqual(c.server, { host: DEFAULTS.host, port: DEFAULTS.port, maxBodyBytes: DEFAULTS.maxBodyBytes, maxOldSpaceMb: 128, maxSemiSpaceMb: 8, tls: undefined });
    assert.equal(c.controlStorage, DEFAULTS.control);
    assert.equal(c.dataDir, DEFAULTS.dataDir);
  });
});

interface BadCase {
  readonly what: string;
  readonly mutate: (d: Doc) => void;
  /** Substrings the message must contain: the key path, and what is wrong where useful. */
  readonly mentions: readonly string[];
}

const newHomeSite = { id: 'tokyo', operator: 'trusted-provider', country: 'JP', role: 'home', storage: 'sqlite:sites/tokyo.db' };

const BAD: readonly BadCase[] = [
  // schema: enums, unknown and missing keys, wrong types
  { what: 'a site role outside the enum', mutate: (d) => set(d, ['sites', 1, 'role'], 'primary'), mentions: ['sites[1].role', 'home, backup, legacy'] },
  { what: 'a field class outside the enum', mutate: (d) => set(d, ['collections', 'users', 'fields', 'email', 'class'], 'secret'), mentions: ['collections.users.fields.email.class', 'protected, public'] },
  { what: 'a field type outside the enum', mutate: (d) => set(d, ['collections', 'users', 'fields', 'email', 'type'], 'email'), mentions: ['collections.users.fields.email.type'] },
  { what: 'an unknown top-level key', mutate: (d) => set(d, ['colour'], 'blue'), mentions: ['colour is not a known key'] },
  { what: 'an unknown nested key', mutate: (d) => set(d, ['sites', 0, 'region'], 'east'), mentions: ['sites[0].region is not a known key'] },
  { what: 'an unknown key in a field', mutate: (d) => set(d, ['collections', 'users', 'fields', 'email', 'encrypted'], true), mentions: ['collections.users.fields.email.encrypted is not a known key'] },
  { what: 'a missing top-level key', mutate: (d) => del(d, ['collections']), mentions: ['collections is required'] },
  { what: 'a missing nested key', mutate: (d) => del(d, ['seal', 'threshold']), mentions: ['seal.threshold is required'] },
  { what: 'a missing field type', mutate: (d) => del(d, ['collections', 'messages', 'fields', 'body', 'type']), mentions: ['collections.messages.fields.body.type is required'] },
  { what: 'a port of the wrong type', mutate: (d) => set(d, ['server', 'port'], '8700'), mentions: ['server.port must be an integer'] },
  { what: 'a port out of range', mutate: (d) => set(d, ['server', 'port'], 70000), mentions: ['server.port must be <= 65535'] },
  { what: 'server.tls without its key file', mutate: (d) => set(d, ['server', 'tls'], { cert_file: 'a.crt' }), mentions: ['server.tls', 'key_file'] },
  { what: 'a TLS version below 1.2', mutate: (d) => set(d, ['server', 'tls'], { cert_file: 'a.crt', key_file: 'a.key', min_version: 'TLSv1.1' }), mentions: ['server.tls.min_version', '"TLSv1.2", "TLSv1.3"'] },
  { what: 'an empty server.tls.client_ca_file', mutate: (d) => set(d, ['server', 'tls'], { cert_file: 'a.crt', key_file: 'a.key', client_ca_file: '' }), mentions: ['server.tls.client_ca_file'] },
  { what: 'an unknown key in server.tls', mutate: (d) => set(d, ['server', 'tls'], { cert_file: 'a.crt', key_file: 'a.key', passphrase: 'x' }), mentions: ['server.tls', 'passphrase'] },
  { what: 'officers that are not a list', mutate: (d) => set(d, ['seal', 'officers'], 'alice'), mentions: ['seal.officers must be an array'] },
  { what: 'a version other than 1', mutate: (d) => set(d, ['version'], 2), mentions: ['version must be 1'] },
  { what: 'an empty name', mutate: (d) => set(d, ['name'], ''), mentions: ['name must have at least 1 character'] },
  { what: 'an id that breaks the id pattern', mutate: (d) => set(d, ['sites', 0, 'id'], 'Trusted US'), mentions: ['sites[0].id must match'] },
  { what: 'a lowercase country code', mutate: (d) => set(d, ['jurisdictions', 0, 'countries', 0], 'us'), mentions: ['jurisdictions[0].countries[0] must match'] },
  { what: 'an unknown action', mutate: (d) => set(d, ['orgs', 1, 'roles', 0, 'actions'], ['record.read', 'record.destroy']), mentions: ['orgs[1].roles[0].actions[1] must be one of', 'record.read'] },
  { what: 'reads outside the enum', mutate: (d) => set(d, ['orgs', 1, 'roles', 0, 'reads'], 'everything'), mentions: ['orgs[1].roles[0].reads'] },
  { what: 'a collection name that breaks the pattern', mutate: (d) => set(d, ['collections', 'Users'], get(d, ['collections', 'users'])), mentions: ['collections.Users is not a known key'] },
  { what: 'a collection without fields', mutate: (d) => set(d, ['collections', 'users', 'fields'], {}), mentions: ['collections.users.fields must have at least 1 key'] },
  { what: 'no jurisdictions', mutate: (d) => set(d, ['jurisdictions'], []), mentions: ['jurisdictions must have at least 1 item'] },
  { what: 'duplicate officers', mutate: (d) => set(d, ['seal', 'officers'], ['alice', 'alice', 'bob']), mentions: ['seal.officers must not contain duplicates'] },
  { what: 'a max_length below 1', mutate: (d) => set(d, ['collections', 'users', 'fields', 'email', 'max_length'], 0), mentions: ['collections.users.fields.email.max_length must be >= 1'] },
  // seal
  { what: 'a threshold of 1 (one person alone would hold the key)', mutate: (d) => set(d, ['seal', 'threshold'], 1), mentions: ['seal.threshold must be >= 2'] },
  { what: 'a threshold above the number of officers', mutate: (d) => set(d, ['seal', 'threshold'], 4), mentions: ['seal.threshold (4)', 'seal.officers (3)'] },
  { what: 'a single officer', mutate: (d) => set(d, ['seal'], { threshold: 2, officers: ['alice'] }), mentions: ['seal.officers must have at least 2 item'] },
  { what: 'a recipient for someone who is no officer', mutate: (d) => set(d, ['seal', 'recipients'], { alice: 'age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq', bob: 'age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq', carol: 'age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq', mallory: 'age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq' }), mentions: ['seal.recipients.mallory: not one of seal.officers'] },
  { what: 'recipients that leave an officer out (their share would be shown in clear)', mutate: (d) => set(d, ['seal', 'recipients'], { alice: 'age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq', bob: 'age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq' }), mentions: ['seal.recipients: every officer needs one (missing: carol)'] },
  { what: 'a recipient that is no age public key', mutate: (d) => set(d, ['seal', 'recipients'], { alice: 'ssh-ed25519 AAAA', bob: 'age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq', carol: 'age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq' }), mentions: ['seal.recipients.alice: expected an age public key'] },
  // duplicates
  { what: 'a duplicate site id', mutate: (d) => set(d, ['sites', 3, 'id'], 'virginia'), mentions: ['sites[3].id "virginia" is defined twice'] },
  { what: 'a duplicate org id', mutate: (d) => set(d, ['orgs', 4, 'id'], 'platform'), mentions: ['orgs[4].id "platform" is defined twice'] },
  { what: 'a duplicate role id in one org', mutate: (d) => set(d, ['orgs', 0, 'roles', 1, 'id'], 'officer'), mentions: ['orgs[0].roles[1].id "officer" is defined twice'] },
  { what: 'a duplicate jurisdiction id', mutate: (d) => push(d, ['jurisdictions'], { id: 'us', countries: ['CA'] }), mentions: ['jurisdictions[2].id "us" is defined twice'] },
  { what: 'a country in two jurisdictions', mutate: (d) => push(d, ['jurisdictions', 1, 'countries'], 'US'), mentions: ['jurisdictions[1].countries', 'US already belongs to jurisdiction "us"'] },
  // references
  { what: 'a home_site that is no site', mutate: (d) => set(d, ['jurisdictions', 0, 'home_site'], 'nowhere'), mentions: ['jurisdictions[0].home_site "nowhere" is not a site id'] },
  { what: 'a home_site whose role is not home', mutate: (d) => set(d, ['jurisdictions', 0, 'home_site'], 'virginia'), mentions: ['jurisdictions[0].home_site "virginia" has role "legacy", expected "home"'] },
  {
    what: 'a home_site outside the jurisdiction\'s countries',
    mutate: (d) => {
      push(d, ['sites'], newHomeSite);
      set(d, ['jurisdictions', 0, 'home_site'], 'tokyo');
    },
    mentions: ['jurisdictions[0].home_site "tokyo" is in JP, outside jurisdiction "us"'],
  },
  { what: 'one home site for two jurisdictions', mutate: (d) => set(d, ['jurisdictions', 1, 'home_site'], 'trusted-us'), mentions: ['jurisdictions[1].home_site', 'site "trusted-us" is the home site of both "us" and "eu"'] },
  { what: 'a backup site whose role is not backup', mutate: (d) => set(d, ['jurisdictions', 0, 'backup_sites'], ['virginia']), mentions: ['jurisdictions[0].backup_sites[0] "virginia" has role "legacy", expected "backup"'] },
  { what: 'a site operated by an unknown org', mutate: (d) => set(d, ['sites', 0, 'operator'], 'nobody'), mentions: ['sites[0].operator "nobody" is not an org id'] },
  // invariants 1 and 2: the parent company never holds a jurisdiction's data
  { what: 'a home site operated by the parent company', mutate: (d) => set(d, ['sites', 0, 'operator'], 'parent'), mentions: ['sites[0].operator "parent" is the parent company', 'home site of jurisdiction "us"', 'only a legacy site'] },
  {
    what: 'a backup site operated by the parent company',
    mutate: (d) => {
      push(d, ['sites'], { id: 'us-backup', operator: 'parent', country: 'US', role: 'backup', storage: 'sqlite:sites/us-backup.db' });
      set(d, ['jurisdictions', 0, 'backup_sites'], ['us-backup']);
    },
    mentions: ['sites[4].operator "parent" is the parent company', 'backup site of jurisdiction "us"'],
  },
  { what: 'a home site, of no jurisdiction yet, operated by the parent company', mutate: (d) => push(d, ['sites'], { ...newHomeSite, operator: 'parent' }), mentions: ['sites[4].operator "parent" is the parent company', 'a home site'] },
  // invariant 2
  { what: 'a parent-company role that may re-home subjects', mutate: (d) => set(d, ['orgs', 2, 'roles', 0, 'actions'], ['record.read', 'subject.rehome']), mentions: ['orgs[2].roles[0].actions must not include subject.rehome', 'parent company'] },
  { what: 'a parent-company role that may seal the enclave', mutate: (d) => set(d, ['orgs', 2, 'roles', 0, 'actions'], ['enclave.seal']), mentions: ['orgs[2].roles[0].actions must not include enclave.seal'] },
  { what: 'a parent-company role that reads protected fields', mutate: (d) => set(d, ['orgs', 2, 'roles', 0, 'reads'], 'protected'), mentions: ['orgs[2].roles[0].reads must be "public"', 'parent company'] },
  // collections
  { what: 'a subject field that is protected', mutate: (d) => set(d, ['collections', 'users', 'fields', 'user_id', 'class'], 'protected'), mentions: ['collections.users.fields.user_id.class must be "public"'] },
  {
    what: 'a subject field that is not a string',
    mutate: (d) => set(d, ['collections', 'users', 'fields', 'user_id'], { type: 'integer', class: 'public' }),
    mentions: ['collections.users.fields.user_id.type must be "string"'],
  },
  { what: 'a subject field that is optional', mutate: (d) => set(d, ['collections', 'users', 'fields', 'user_id', 'required'], false), mentions: ['collections.users.fields.user_id.required must be true'] },
  { what: 'a subject that is not a field', mutate: (d) => set(d, ['collections', 'users', 'subject'], 'uid'), mentions: ['collections.users.subject "uid" is not one of its fields'] },
  { what: 'max_length on an integer field', mutate: (d) => set(d, ['collections', 'videos', 'fields', 'views', 'max_length'], 5), mentions: ['collections.videos.fields.views.max_length applies only to type string'] },
  // the gatekeeper section
  { what: 'no gatekeeper section', mutate: (d) => del(d, ['gatekeeper']), mentions: ['gatekeeper is required'] },
  { what: 'an unknown gatekeeper key', mutate: (d) => set(d, ['gatekeeper', 'approvers'], []), mentions: ['gatekeeper.approvers is not a known key'] },
  { what: 'no purposes', mutate: (d) => set(d, ['gatekeeper', 'purposes'], []), mentions: ['gatekeeper.purposes must have at least 1 item'] },
  { what: 'a malformed duration', mutate: (d) => set(d, ['gatekeeper', 'max_grant_duration'], '8 hours'), mentions: ['gatekeeper.max_grant_duration must match'] },
  { what: 'a zero duration', mutate: (d) => set(d, ['gatekeeper', 'request_expiry'], '0h'), mentions: ['gatekeeper.request_expiry must match'] },
  { what: 'grants longer than 90 days', mutate: (d) => set(d, ['gatekeeper', 'max_grant_duration'], '91d'), mentions: ['gatekeeper.max_grant_duration must be at most 90d'] },
  { what: 'a justification that may be one character', mutate: (d) => set(d, ['gatekeeper', 'min_justification_length'], 0), mentions: ['gatekeeper.min_justification_length must be >= 1'] },
  { what: 'a service role without purposes', mutate: (d) => set(d, ['gatekeeper', 'service_purposes'], {}), mentions: ['gatekeeper.service_purposes lacks "platform/service"', 'every role of a service org'] },
  { what: 'service purposes for a role that is no service', mutate: (d) => set(d, ['gatekeeper', 'service_purposes', 'gatekeeper/officer'], ['account']), mentions: ['"gatekeeper/officer" is not a role of a service org'] },
  { what: 'a service purpose that is not a purpose', mutate: (d) => set(d, ['gatekeeper', 'service_purposes', 'platform/service'], ['marketing']), mentions: ['purpose "marketing" is not in gatekeeper.purposes'] },
  { what: 'a group naming an unknown org', mutate: (d) => set(d, ['gatekeeper', 'groups', 'monitors', 'roles'], ['nasa/monitor']), mentions: ['gatekeeper.groups.monitors.roles[0]: "nasa/monitor" names no org "nasa"'] },
  { what: 'a group naming an unknown role', mutate: (d) => set(d, ['gatekeeper', 'groups', 'monitors', 'roles'], ['trusted-provider/boss']), mentions: ['names no role "boss" of org "trusted-provider"'] },
  { what: 'a group with a parent-company role (invariant 2)', mutate: (d) => set(d, ['gatekeeper', 'groups', 'monitors', 'roles'], ['parent/engineer']), mentions: ['"parent/engineer" belongs to the parent company, which may never approve access'] },
  { what: 'a group without members', mutate: (d) => set(d, ['gatekeeper', 'groups', 'monitors'], {}), mentions: ['gatekeeper.groups.monitors has no members'] },
  { what: 'a quorum from an unknown group', mutate: (d) => set(d, ['gatekeeper', 'policy_approval', 'from'], ['admins']), mentions: ['gatekeeper.policy_approval.from: "admins" is not a group'] },
  { what: 'a quorum requiring a group it does not draw from', mutate: (d) => set(d, ['gatekeeper', 'policy_approval', 'require'], { monitors: 1 }), mentions: ['gatekeeper.policy_approval.require: "monitors" must also be listed in gatekeeper.policy_approval.from'] },
  { what: 'a quorum requiring more approvers than k', mutate: (d) => set(d, ['gatekeeper', 'access_approval', 'require'], { gatekeepers: 2, monitors: 1 }), mentions: ['asks for 3 approvers in all, more than gatekeeper.access_approval.k (2)'] },
  { what: 'a quorum of zero', mutate: (d) => set(d, ['gatekeeper', 'token_approval', 'k'], 0), mentions: ['gatekeeper.token_approval.k must be >= 1'] },
  { what: 'break-glass longer than a day', mutate: (d) => set(d, ['gatekeeper', 'break_glass', 'max_duration'], '2d'), mentions: ['gatekeeper.break_glass.max_duration must be at most 24h'] },
  { what: 'break-glass longer than any grant', mutate: (d) => set(d, ['gatekeeper', 'break_glass', 'max_duration'], '9h'), mentions: ['gatekeeper.break_glass.max_duration (9h) must not exceed gatekeeper.max_grant_duration (8h)'] },
  { what: 'a parent-company break-glass role', mutate: (d) => set(d, ['gatekeeper', 'break_glass', 'roles'], ['parent/engineer']), mentions: ['gatekeeper.break_glass.roles[0]: "parent/engineer" belongs to the parent company'] },
  { what: 'a break-glass naming no subject at all', mutate: (d) => set(d, ['gatekeeper', 'break_glass', 'max_subjects'], 0), mentions: ['gatekeeper.break_glass.max_subjects must be >= 1'] },
  { what: 'a break-glass naming more subjects than any scope', mutate: (d) => set(d, ['gatekeeper', 'break_glass', 'max_subjects'], 1001), mentions: ['gatekeeper.break_glass.max_subjects must be <= 1000'] },
  { what: 'a fractional break-glass subject limit', mutate: (d) => set(d, ['gatekeeper', 'break_glass', 'max_subjects'], 2.5), mentions: ['gatekeeper.break_glass.max_subjects must be an integer'] },
  { what: 'no break-glass ever open', mutate: (d) => set(d, ['gatekeeper', 'break_glass', 'max_open'], 0), mentions: ['gatekeeper.break_glass.max_open must be >= 1'] },
  { what: 'more than 100 break-glass grants open at once', mutate: (d) => set(d, ['gatekeeper', 'break_glass', 'max_open'], 101), mentions: ['gatekeeper.break_glass.max_open must be <= 100'] },
  { what: 'a break-glass open limit in words', mutate: (d) => set(d, ['gatekeeper', 'break_glass', 'max_open'], 'one'), mentions: ['gatekeeper.break_glass.max_open must be an integer'] },
  { what: 'a break-glass review without a deadline', mutate: (d) => del(d, ['gatekeeper', 'break_glass', 'review', 'within']), mentions: ['gatekeeper.break_glass.review.within is required'] },
  { what: 'a bootstrap role outside the gatekeeper', mutate: (d) => set(d, ['gatekeeper', 'bootstrap', 'role'], 'platform/service'), mentions: ['gatekeeper.bootstrap.role: "platform/service" must be a role of a gatekeeper org'] },
  { what: 'a role reference without an org', mutate: (d) => set(d, ['gatekeeper', 'bootstrap', 'role'], 'officer'), mentions: ['gatekeeper.bootstrap.role must match'] },
];

void describe('sites the parent company operates', () => {
  void it('may be legacy sites (where migration reads from), and the starter configuration has two', () => {
    const c = parseConfig(starter());
    const parentSites = [...c.sites.values()].filter((s) => c.orgs.get(s.operator)?.kind === 'parent');
    assert.deepEqual(parentSites.map((s) => [s.id, s.role]), [['virginia', 'legacy'], ['singapore', 'legacy']]);
  });
});

void describe('parseConfig refuses malformed documents with invalid_config, naming the key', () => {
  for (const c of BAD) {
    void it(c.what, () => {
      const d = starter();
      c.mutate(d);
      invalidConfig(() => parseConfig(d, 'enclave.yaml'), 'enclave.yaml: ', ...c.mentions);
    });
  }

  void it('reports every cross-reference problem at once, one per line', () => {
    const d = starter();
    set(d, ['seal', 'threshold'], 5);
    set(d, ['sites', 0, 'operator'], 'nobody');
    set(d, ['collections', 'users', 'subject'], 'uid');
    const err = invalidConfig(() => parseConfig(d), '3 problems', 'seal.threshold', 'sites[0].operator', 'collections.users.subject');
    assert.deepEqual((err.details?.['problems'] as readonly string[] | undefined)?.length, 3);
  });

  void it('a document that is not an object names the root', () => {
    for (const doc of [null, undefined, [], 'version: 1', 42, true]) invalidConfig(() => parseConfig(doc), '(root) must be an object');
  });

  void it('messages do not echo values that may be secret (a wrong-typed value is described, not quoted)', () => {
    const d = starter();
    set(d, ['name'], { secret: 'hunter2-do-not-print' });
    const err = invalidConfig(() => parseConfig(d), 'name must be a string');
    assert.ok(!err.message.includes('hunter2'));
  });
});

void describe('parseConfigText (YAML)', () => {
  void it('parses the starter file and resolves data_dir against the file\'s directory', () => {
    const c = parseConfigText(starterConfig(), '/etc/enclave/enclave.yaml', '/etc/enclave');
    assert.equal(c.dataDir, '/etc/enclave/data');
    const abs = parseConfigText(starterConfig().replace('data_dir: data', 'data_dir: /var/lib/enclave'), 'e.yaml', '/etc/enclave');
    assert.equal(abs.dataDir, '/var/lib/enclave');
  });

  void it('a YAML syntax error reports file:line:col', () => {
    const text = 'version: 1\nname: enclave\nseal: [alice,\n  bob\n';
    const err = invalidConfig(() => parseConfigText(text, 'enclave.yaml', '/tmp'), 'invalid YAML');
    assert.match(err.message, /^enclave\.yaml:\d+:\d+: invalid YAML: /);
  });

  void it('the reported line and column point at the error', () => {
    const text = 'version: 1\nname: enclave\nserver:\n\thost: x\n';
    const err = invalidConfig(() => parseConfigText(text, 'enclave.yaml', '/tmp'), 'enclave.yaml:4:1: invalid YAML', 'Tabs');
    assert.ok(!err.message.includes('\n'), 'one line');
  });

  void it('a duplicate key is refused with its line', () => {
    const text = 'version: 1\nname: a\nname: b\n';
    invalidConfig(() => parseConfigText(text, 'enclave.yaml', '/tmp'), 'enclave.yaml:3:1: invalid YAML', 'unique');
  });

  void it('schema errors from YAML name the key path and the file', () => {
    const text = starterConfig().replace('role: legacy\n    storage: sqlite:legacy/virginia.db', 'role: primary\n    storage: sqlite:legacy/virginia.db');
    invalidConfig(() => parseConfigText(text, 'enclave.yaml', '/tmp'), 'enclave.yaml: sites[2].role must be one of');
  });

  void it('an alias bomb or an unresolved alias is invalid_config, not a crash', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]', ''].join('\n');
    invalidConfig(() => parseConfigText(bomb, 'enclave.yaml', '/tmp'), 'enclave.yaml', 'alias');
    invalidConfig(() => parseConfigText('version: *nope\n', 'enclave.yaml', '/tmp'), 'enclave.yaml', 'alias');
  });

  void it('a file that is not UTF-8 (Latin-1, UTF-16) is refused, never read with its bytes replaced; a UTF-8 byte order mark is fine', () => {
    const dir = mkdtempSync(join(tmpdir(), 'enclave-config-'));
    try {
      const text = starterConfig().replace(/^name: .*$/m, 'name: Zürich');
      const files = { latin1: Buffer.from(text, 'latin1'), utf16: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]) };
      for (const [name, bytes] of Object.entries(files)) {
        writeFileSync(join(dir, name), bytes);
        invalidConfig(() => loadConfig(join(dir, name)), `${join(dir, name)} is not UTF-8 text`);
      }
      writeFileSync(join(dir, 'bom'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]));
      assert.equal(loadConfig(join(dir, 'bom')).name, 'Zürich');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void it('an empty file or several documents are invalid_config', () => {
    invalidConfig(() => parseConfigText('', 'enclave.yaml', '/tmp'), 'enclave.yaml');
    invalidConfig(() => parseConfigText('a: 1\n---\nb: 2\n', 'enclave.yaml', '/tmp'), 'enclave.yaml');
  });
});

/** Throws unless `fn` returns normally or throws EnclaveError('invalid_config'). */
function onlyInvalidConfig(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof EnclaveError) || err.code !== 'invalid_config') throw err;
  }
}

/** A path into the starter document, to replace or delete what is there. */
function paths(node: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (node === null || typeof node !== 'object') return [prefix];
  const entries: [string | number, unknown][] = Array.isArray(node) ? node.map((v, i) => [i, v]) : Object.entries(node);
  return [prefix, ...entries.flatMap(([k, v]) => paths(v, [...prefix, k]))];
}
const STARTER_PATHS = paths(starter()).filter((p) => p.length > 0);

void describe('parseConfig never throws anything but invalid_config (property)', () => {
  void it('on arbitrary JSON-like documents', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.anything({ withNullPrototype: true, withBigInt: true, withDate: true, withMap: true, withSet: true })), (doc) => {
        onlyInvalidConfig(() => parseConfig(doc));
      }),
      { numRuns: 300 },
    );
  });

  void it('on the starter document with one value replaced or removed', () => {
    fc.assert(
      fc.property(fc.constantFrom(...STARTER_PATHS), fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }), (path, value) => {
        const d = starter();
        if (value === undefined) del(d, path);
        else set(d, path, value);
        onlyInvalidConfig(() => parseConfig(d));
      }),
      { numRuns: 500 },
    );
  });

  void it('on arbitrary YAML text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ unit: fc.constantFrom('a', ':', ' ', '\n', '-', '[', ']', '{', '}', '&', '*', '!', '"', '#', '|', '>', '\t', '1'), maxLength: 80 })), (text) => {
        onlyInvalidConfig(() => parseConfigText(text, 'fuzz.yaml', '/tmp'));
      }),
      { numRuns: 500 },
    );
  });
});
