// The migration mapping: every malformed file is refused with invalid_mapping naming the table and
// column, and every mismatch with the live schema or the configuration with mapping_mismatch, before
// anything moves.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { EnclaveError } from '../../src/core/errors.ts';
import { parseMapping, resolveMapping, type MigrationMapping } from '../../src/core/migration-mapping.ts';
import type { SourceColumn, SourceTable } from '../../src/core/migration-source.ts';
import { parseConfigText, parseYaml } from '../../src/services/config-loader.ts';
import { parseMappingText, sha256Hex } from '../../src/services/migration/mapping-loader.ts';
import { starterConfig } from '../../src/services/starter-config.ts';

const config = parseConfigText(starterConfig(), 'enclave.yaml', '/');

const VALID = `version: 1
name: virginia
source: { sqlite: legacy/virginia.db, site: virginia }
subjects:
  table: accounts
  id: uid
  key: id
  country: { expr: "upper(trim(coalesce(country, billing_country)))", map: { UK: GB } }
tables:
  - table: accounts
    collection: users
    fields: { user_id: uid, username: handle, email: email, phone: phone }
  - table: messages
    collection: messages
    subject: { join: account_id }
    fields: { recipient_id: rcpt, body: body, sent_at: sent }
  - table: devices
    collection: devices
    key: [serial]
    subject: owner_uid
    record_id: hash
    fields: { model: model, os: os, ip_address: ip }
`;

const col = (name: string, kind: SourceColumn['kind'] = 'text', nullable = true): SourceColumn => ({ name, kind, nativeType: kind.toUpperCase(), nullable });
const LIVE: SourceTable[] = [
  {
    name: 'accounts',
    columns: [col('id', 'integer', false), col('uid'), col('handle'), col('email'), col('phone'), col('country'), col('billing_country'), col('photo', 'blob')],
    primaryKey: ['id'],
    uniqueKeys: [['id'], ['uid']],
  },
  { name: 'messages', columns: [col('id', 'integer', false), col('account_id', 'integer'), col('rcpt'), col('body'), col('sent', 'timestamp')], primaryKey: ['id'], uniqueKeys: [['id']] },
  { name: 'devices', columns: [col('rowid_', 'integer'), col('serial', 'text', false), col('owner_uid'), col('model'), col('os'), col('ip')], primaryKey: [], uniqueKeys: [['serial']] },
  { name: 'sessions', columns: [col('id', 'integer')], primaryKey: ['id'], uniqueKeys: [['id']] },
];

const parse = (text: string) => parseMappingText(text, 'map.yaml');
const resolve = (m: MigrationMapping, live: SourceTable[] = LIVE) => resolveMapping(m, config, live, 'map.yaml', 'sqlite');
const refused = (code: string, ...patterns: RegExp[]) => (err: unknown) => {
  if (!(err instanceof EnclaveError) || err.code !== code) return false;
  for (const p of patterns) assert.match(err.message, p);
  return true;
};
/** The valid mapping with one piece of text replaced. */
const edit = (from: string, to: string) => {
  assert.ok(VALID.includes(from), from);
  return VALID.replace(from, to);
};

void describe('mapping file', () => {
  void it('a valid mapping parses and resolves: keys, links, fields, columns to read', () => {
    const m = parse(VALID);
    assert.equal(m.name, 'virginia');
    assert.deepEqual(m.source, { kind: 'sqlite', path: 'legacy/virginia.db', site: 'virginia' });
    assert.match(m.hash, /^[0-9a-f]{64}$/);
    const r = resolve(m);
    assert.deepEqual([...r.jurisdictions].sort(), ['eu', 'us']);
    const [accounts, messages, devices] = r.tables;
    assert.ok(accounts && messages && devices);
    assert.deepEqual(accounts.key, ['id']);
    assert.equal(accounts.recordId, 'key');
    assert.deepEqual(accounts.subject, { kind: 'self' });
    assert.deepEqual(accounts.fields.map((f) => f.field.name), ['username', 'email', 'phone'], 'the subject field is filled from the subject');
    assert.deepEqual(accounts.columns, ['id', 'uid', 'country', 'billing_country', 'handle', 'email', 'phone']);
    assert.deepEqual(messages.subject, { kind: 'join', column: 'account_id' });
    assert.deepEqual(devices.key, ['serial']);
    assert.equal(devices.recordId, 'hash');
    assert.deepEqual(devices.subject, { kind: 'column', column: 'owner_uid' });
    assert.deepEqual(r.subjects.columns, ['uid', 'id', 'country', 'billing_country']);
    assert.equal(parse(VALID.replace('name: virginia', 'name: virginia\ndescription: same')).hash === m.hash, false, 'the hash covers the whole file');
  });

  void it('refuses a malformed file with invalid_mapping, naming the table and the key', () => {
    const cases: [string, RegExp][] = [
      [edit('version: 1', 'version: 2'), /version must be 1/],
      [edit('name: virginia', 'name: Virginia!'), /name must match/],
      [edit('    collection: messages', '    collection: messages\n    colour: blue'), /tables\[1\] \(messages\)\.colour is not a known key/],
      [edit('    fields: { recipient_id: rcpt, body: body, sent_at: sent }', '    fields: {}'), /tables\[1\] \(messages\)\.fields must have at least 1 key/],
      [edit('    fields: { recipient_id: rcpt, body: body, sent_at: sent }', '    fields: { body: "body; DROP" }'), /tables\[1\] \(messages\)\.fields\.body must match/],
      [edit('    subject: { join: account_id }', '    subject: { join: account_id, column: x }'), /tables\[1\] \(messages\)\.subject/],
      [edit('    subject: { join: account_id }\n', ''), /tables\[1\] \(messages\)\.subject is required/],
      [edit('    fields: { user_id: uid, username: handle, email: email, phone: phone }', '    subject: uid\n    fields: { user_id: uid }'), /tables\[0\] \(accounts\)\.subject: accounts is the subjects table/],
      [edit('  - table: devices', '  - table: messages'), /tables\[2\] \(messages\): table messages is already mapped by tables\[1\]/],
      [edit('source: { sqlite: legacy/virginia.db, site: virginia }', 'source: { site: virginia }'), /source must name exactly one of sqlite, postgres, mysql, jsonl \(found none\)/],
      [edit('source: { sqlite: legacy/virginia.db, site: virginia }', 'source: { sqlite: a.db, jsonl: dir }'), /found sqlite, jsonl/],
      [edit('source: { sqlite: legacy/virginia.db, site: virginia }', 'source: { postgres: "mysql://x" }'), /source\.postgres must be a postgres:\/\/ URL/],
      [edit('  country: { expr: "upper(trim(coalesce(country, billing_country)))", map: { UK: GB } }', '  country: { column: country, expr: "country" }'), /subjects\.country must give exactly one of column or expr/],
      [edit('  country: { expr: "upper(trim(coalesce(country, billing_country)))", map: { UK: GB } }', '  country: { expr: "upper(country" }'), /subjects\.country\.expr: missing "\)"/],
      [edit('  country: { expr: "upper(trim(coalesce(country, billing_country)))", map: { UK: GB } }', '  country: { expr: "x", map: { UK: GBR } }'), /subjects\.country\.map\.UK must match/],
      [edit('  table: accounts\n  id: uid', '  table: people\n  id: uid'), /subjects\.table people must also be mapped under tables/],
      [edit('    key: [serial]\n    subject: owner_uid\n    record_id: hash', '    key: [serial, rowid_]\n    subject: owner_uid\n    record_id: key'), /tables\[2\] \(devices\)\.record_id "key" needs a one-column key/],
      ['version: 1\nname: x\nname: y\n', /^map\.yaml:3:1: invalid YAML: Map keys must be unique/],
      ['[1, 2', /^map\.yaml:1:6: invalid YAML/],
      ['just text', /\(root\) must be an object/],
    ];
    for (const [text, pattern] of cases) assert.throws(() => parse(text), refused('invalid_mapping', /^map\.yaml/, pattern), pattern.source);
  });

  void it('a value of the wrong shape for a union is told what the union takes, not each branch\'s complaint', () => {
    const only = (text: string, message: string) =>
      assert.throws(() => parse(text), (e: unknown) => e instanceof EnclaveError && e.message === `map.yaml: ${message}`, message);
    only(edit('    subject: { join: account_id }', '    subject: 5'), 'tables[1] (messages).subject must be a string or an object');
    only(edit('  country: { expr: "upper(trim(coalesce(country, billing_country)))", map: { UK: GB } }', '  country: { expr: "x", map: { UK: 5 } }'), 'subjects.country.map.UK must be a string');
    only(edit('  country: { expr: "upper(trim(coalesce(country, billing_country)))", map: { UK: GB } }', '  country: [x]'), 'subjects.country must be a string or an object');
  });

  void it('a value of the right type that no branch of a union takes is told what the branches take, not that each is wrong', () => {
    const only = (text: string, ...messages: string[]) =>
      assert.throws(
        () => parse(text),
        (e: unknown) => e instanceof EnclaveError && e.message === (messages.length === 1 ? `map.yaml: ${messages[0]}` : `map.yaml: ${messages.length} problems:\n${messages.map((m) => `  - ${m}`).join('\n')}`),
        messages.join('; '),
      );
    // Each branch names another required key; said side by side, they read as "both are required".
    only(edit('    subject: { join: account_id }', '    subject: { joins: account_id }'), 'tables[1] (messages).subject.joins is not a known key', 'tables[1] (messages).subject must have one of the keys: column, join');
    // One literal per branch.
    only(edit('    record_id: hash', '    record_id: hashed'), 'tables[2] (devices).record_id must be one of: "key", "hash"');
    // The branch the value comes closest to speaks alone.
    only(edit('    subject: { join: account_id }', '    subject: { join: [account_id] }'), 'tables[1] (messages).subject.join must be a string');
  });

  void it('refuses a mapping that does not fit the live schema or the configuration with mapping_mismatch, naming table and column', () => {
    const cases: [string, SourceTable[] | undefined, RegExp][] = [
      [edit('  - table: devices', '  - table: gadgets'), undefined, /tables\[2\] \(gadgets\): source table gadgets does not exist \(tables: accounts, messages, devices, sessions\)/],
      [edit('body: body', 'body: text'), undefined, /tables\[1\] \(messages\)\.fields\.body: column "text" does not exist in source table messages \(columns: id, account_id, rcpt, body, sent\)/],
      [edit('username: handle', 'username: photo'), undefined, /tables\[0\] \(accounts\)\.fields\.username: column "photo" of accounts is BLOB \(blob\), which cannot fill a field of type string/],
      [edit('sent_at: sent', 'sent_at: account_id'), undefined, /fields\.sent_at: column "account_id" of messages is INTEGER \(integer\), which cannot fill a field of type timestamp/],
      [edit('    key: [serial]\n', ''), undefined, /tables\[2\] \(devices\)\.key is required: table devices has no primary key/],
      [edit('    key: [serial]', '    key: [model]'), undefined, /tables\[2\] \(devices\)\.key \(model\) is neither the primary key nor a unique index of devices/],
      [edit('    collection: messages', '    collection: chats'), undefined, /tables\[1\] \(messages\)\.collection: "chats" is not a collection of the configuration/],
      [edit('ip_address: ip', 'ip_address: ip, colour: os'), undefined, /tables\[2\] \(devices\)\.fields\.colour: collection "devices" has no field "colour"/],
      [edit('ip_address: ip', 'location: ip'), undefined, /tables\[2\] \(devices\)\.fields: required field "ip_address" of collection "devices" is not mapped/],
      [edit('recipient_id: rcpt', 'recipient_id: id'), undefined, /fields\.recipient_id: key column "id" is mapped to a protected field/],
      [edit('fields: { recipient_id: rcpt,', 'fields: { sender_id: rcpt, recipient_id: rcpt,'), undefined, /fields\.sender_id: sender_id is the collection's subject field, filled from the row's subject/],
      [edit('tables:', 'jurisdictions: [us, mars]\ntables:'), undefined, /jurisdictions: "mars" is not a jurisdiction of the configuration/],
      [edit('site: virginia', 'site: trusted-us'), undefined, /source\.site: "trusted-us" has role "home"; a migration source is a legacy site/],
      [VALID, LIVE.map((t) => (t.name === 'accounts' ? { ...t, uniqueKeys: [['id']] } : t)), /subjects\.id: column "uid" of accounts is neither its primary key nor a unique index/],
      // A unique index admits several NULLs; one such row would stop the whole run.
      [VALID, LIVE.map((t) => (t.name === 'devices' ? { ...t, columns: t.columns.map((c) => (c.name === 'serial' ? { ...c, nullable: true } : c)) } : t)), /tables\[2\] \(devices\)\.key: column "serial" of devices admits NULL; a key from a unique index must be NOT NULL/],
      // A join of text to an integer key: an error in PostgreSQL's lookup, a conversion in the others.
      [VALID, LIVE.map((t) => (t.name === 'messages' ? { ...t, columns: t.columns.map((c) => (c.name === 'account_id' ? col('account_id') : c)) } : t)), /tables\[1\] \(messages\)\.subject: column "account_id" of messages is TEXT \(text\) but subjects\.key "id" of accounts is INTEGER \(integer\)/],
      [VALID, LIVE.map((t) => (t.name === 'devices' ? { ...t, columns: t.columns.map((c) => (c.name === 'owner_uid' ? col('owner_uid', 'integer') : c)) } : t)), /tables\[2\] \(devices\)\.subject: column "owner_uid" of devices is INTEGER \(integer\) but subjects\.id "uid" of accounts is TEXT/],
      [VALID, LIVE.map((t) => (t.name === 'accounts' ? { ...t, columns: t.columns.filter((c) => c.name !== 'billing_country') } : t)), /subjects\.country \(upper\(trim\(coalesce\(country, billing_country\)\)\)\): column "billing_country" does not exist in source table accounts/],
    ];
    for (const [text, live, pattern] of cases) assert.throws(() => resolve(parse(text), live), refused('mapping_mismatch', /^map\.yaml: /, pattern), pattern.source);
    // All problems at once.
    assert.throws(
      () => resolve(parse(edit('body: body', 'body: text').replace('username: handle', 'username: nick'))),
      refused('mapping_mismatch', /2 problems/, /column "text"/, /column "nick"/),
    );
  });

  void it('property: any document is either a mapping or refused with invalid_mapping, never a crash', () => {
    const doc = parseYaml(VALID, 'map.yaml', 'invalid_mapping');
    const paths: string[][] = [['version'], ['name'], ['source'], ['source', 'sqlite'], ['subjects'], ['subjects', 'country'], ['subjects', 'country', 'expr'], ['tables'], ['tables', '0'], ['tables', '1', 'subject'], ['tables', '1', 'fields'], ['tables', '2', 'key'], ['jurisdictions']];
    const setAt = (o: unknown, path: readonly string[], v: unknown): unknown => {
      if (path.length === 0) return v;
      const [head, ...rest] = path;
      const c = (typeof o === 'object' && o !== null ? structuredClone(o) : {}) as Record<string, unknown>;
      c[head ?? ''] = setAt(c[head ?? ''], rest, v);
      return c;
    };
    fc.assert(
      fc.property(fc.constantFrom(...paths), fc.oneof(fc.jsonValue(), fc.string(), fc.constant(undefined)), (path, value) => {
        try {
          parseMapping(setAt(doc, path, value), 'map.yaml', sha256Hex);
        } catch (err) {
          assert.ok(err instanceof EnclaveError && err.code === 'invalid_mapping', String(err));
        }
      }),
      { numRuns: 400 },
    );
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        try {
          parseMapping(value, 'map.yaml', sha256Hex);
        } catch (err) {
          assert.ok(err instanceof EnclaveError && err.code === 'invalid_mapping', String(err));
        }
      }),
      { numRuns: 200 },
    );
  });
});
