// Records: validation against the collection (errors name the field, never echo its value), the split
// into public and protected parts, and the associated data that binds a ciphertext to its row.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parse } from 'yaml';
import { parseConfig, type CollectionDef } from '../../src/core/config.ts';
import { EnclaveError, type ErrorCode } from '../../src/core/errors.ts';
import { recordAad, recordDataSchema, splitRecord, subjectKeyAad, validateRecordData, validateRecordId } from '../../src/core/record-model.ts';
import { starterConfig } from '../../src/services/starter-config.ts';

const doc = parse(starterConfig()) as { collections: Record<string, unknown> };
doc.collections['kitchen'] = {
  subject: 'owner',
  fields: {
    owner: { type: 'string', class: 'public', max_length: 16 },
    secret: { type: 'string', class: 'protected', max_length: 32 },
    count: { type: 'integer', class: 'protected' },
    ratio: { type: 'number', class: 'public', required: false },
    flag: { type: 'boolean', class: 'protected', required: false },
    at: { type: 'timestamp', class: 'protected', required: false },
    note: { type: 'string', class: 'public', required: false },
    // A name that is also a property of every JavaScript object.
    constructor: { type: 'string', class: 'protected', required: false },
  },
};
const CONFIG = parseConfig(doc);
function coll(name: string): CollectionDef {
  const c = CONFIG.collections.get(name);
  assert.ok(c, name);
  return c;
}
const K = coll('kitchen');
const USERS = coll('users');
const VIDEOS = coll('videos');

const ok = { owner: 'o1', secret: 's', count: 3 };

function refused(code: ErrorCode, data: unknown, c: CollectionDef = K): EnclaveError {
  let caught: unknown;
  try {
    validateRecordData(c, data);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof EnclaveError, `expected EnclaveError(${code}) for ${JSON.stringify(data)}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

void describe('validateRecordData', () => {
  void it('accepts a valid record and returns it unchanged', () => {
    const full = { ...ok, ratio: 0.5, flag: true, at: '2024-02-29T23:59:59.123+01:00', note: null, constructor: 'c' };
    assert.deepEqual(validateRecordData(K, full), full);
    assert.deepEqual(validateRecordData(K, ok), ok);
  });

  void it('an object changed after it was found valid is checked again; a frozen one is valid only for the collection it was checked for', () => {
    const data: Record<string, unknown> = { ...ok };
    validateRecordData(K, data);
    data['count'] = 'three';
    refused('invalid_field', data);
    const frozen = Object.freeze({ ...ok });
    assert.equal(validateRecordData(K, frozen), frozen);
    assert.equal(validateRecordData(K, frozen), frozen);
    refused('unknown_field', frozen, USERS);
  });

  void it('an unknown field is unknown_field and names the field', () => {
    const err = refused('unknown_field', { ...ok, shoe_size: 'secret-value-1' });
    assert.equal(err.details?.field, 'shoe_size');
    assert.ok(err.message.includes('"shoe_size"'));
    assert.ok(err.message.includes('"kitchen"'));
    assert.ok(!err.message.includes('secret-value-1'));
  });

  void it('a wrong type is invalid_field and names the field', () => {
    const cases: [string, unknown][] = [
      ['owner', 42],
      ['secret', { nested: 'x' }],
      ['secret', ['x']],
      ['count', '3'],
      ['count', 1.5],
      ['count', true],
      ['ratio', '0.5'],
      ['flag', 'yes'],
      ['flag', 1],
      ['at', 1714557600000],
      ['note', 7],
    ];
    for (const [field, value] of cases) {
      const err = refused('invalid_field', { ...ok, [field]: value });
      assert.equal(err.details?.field, field, `${field} = ${JSON.stringify(value)}`);
      assert.ok(err.message.includes(field));
    }
  });

  void it('integers must be safe integers', () => {
    assert.deepEqual(validateRecordData(K, { ...ok, count: Number.MAX_SAFE_INTEGER }), { ...ok, count: Number.MAX_SAFE_INTEGER });
    assert.deepEqual(validateRecordData(K, { ...ok, count: Number.MIN_SAFE_INTEGER }), { ...ok, count: Number.MIN_SAFE_INTEGER });
    assert.deepEqual(validateRecordData(K, { ...ok, count: -0 }), { ...ok, count: -0 });
    for (const count of [2 ** 53, -(2 ** 53), 1e300]) assert.equal(refused('invalid_field', { ...ok, count }).details?.field, 'count', String(count));
  });

  void it('timestamps must be RFC 3339 date-times with a zone', () => {
    for (const at of ['2024-01-01T00:00:00Z', '2024-01-01T00:00:00.5-07:00', '2024-12-31t23:59:59z']) {
      assert.equal(validateRecordData(K, { ...ok, at }).at, at, at);
    }
    for (const at of ['2024-01-01', '2024-01-01T00:00:00', '2024-13-01T00:00:00Z', '2023-02-29T00:00:00Z', 'yesterday', '']) {
      const err = refused('invalid_field', { ...ok, at });
      assert.equal(err.details?.field, 'at', at);
      assert.ok(err.message.includes('date-time'));
    }
  });

  void it('required fields must be present and not null; optional ones may be absent or null', () => {
    assert.equal(refused('invalid_field', { owner: 'o1', count: 1 }).details?.field, 'secret');
    assert.ok(refused('invalid_field', { owner: 'o1', count: 1 }).message.includes('secret is required'));
    assert.equal(refused('invalid_field', { ...ok, secret: null }).details?.field, 'secret');
    assert.equal(refused('invalid_field', { ...ok, count: null }).details?.field, 'count');
    assert.deepEqual(validateRecordData(K, { ...ok, ratio: null, flag: null, at: null, note: null }), { ...ok, ratio: null, flag: null, at: null, note: null });
  });

  void it('max_length counts characters, not bytes', () => {
    assert.equal(validateRecordData(K, { ...ok, secret: 'é'.repeat(32) }).secret, 'é'.repeat(32));
    const err = refused('invalid_field', { ...ok, secret: 'x'.repeat(33) });
    assert.equal(err.details?.field, 'secret');
    assert.ok(err.message.includes('at most 32'));
  });

  void it('a string holding a lone UTF-16 surrogate is invalid_field (RFC 7493 §2.1), naming the field, never echoing it; a surrogate pair is text', () => {
    for (const [field, value] of [['secret', 'a\ud800'], ['owner', '\udc00z'], ['secret', 'x\udbff']] as const) {
      const err = refused('invalid_field', { ...ok, [field]: value });
      assert.equal(err.details?.field, field);
      assert.match(err.message, /not well-formed Unicode/);
      assert.ok(!err.message.includes(value));
    }
    assert.equal(validateRecordData(K, { ...ok, secret: 'emoji \ud83d\ude00' }).secret, 'emoji 😀');
  });

  void it('data that is not an object is invalid_request', () => {
    for (const data of [null, undefined, 'text', 42, [], [ok]]) refused('invalid_request', data);
  });

  void it('a field named like an Object.prototype property is validated as data, not inherited', () => {
    // Absent optional field: valid, whatever every object inherits under that name.
    assert.deepEqual(validateRecordData(K, ok), ok);
    assert.equal(refused('invalid_field', { ...ok, constructor: 5 }).details?.field, 'constructor');
  });

  void it('reports every problem, first one in details.field', () => {
    const err = refused('invalid_field', { owner: 1, secret: 2, count: 'x' });
    assert.equal(err.details?.field, 'owner');
    assert.deepEqual(err.details?.['problems'], ['owner must be a string', 'secret must be a string', 'count must be an integer']);
  });

  void it('property: a protected value never appears in the error message or details', () => {
    const marker = fc.string({ minLength: 1, maxLength: 40 }).map((s) => `\u2063val:${s}`);
    fc.assert(
      fc.property(marker, fc.constantFrom<string>('count', 'flag', 'at', 'secret-too-long', 'email-too-long', 'sent_at', 'seconds'), (value, where) => {
        let c = K;
        let data: Record<string, unknown>;
        switch (where) {
          case 'secret-too-long':
            data = { ...ok, secret: value.padEnd(40, '#') };
            break;
          case 'email-too-long':
            c = USERS;
            data = { user_id: 'u', username: 'n', email: value.padEnd(321, '#') };
            break;
          case 'sent_at':
            c = coll('messages');
            data = { sender_id: 's', recipient_id: 'r', body: 'b', sent_at: value };
            break;
          case 'seconds':
            c = coll('watch_history');
            data = { user_id: 'u', video_id: 'v', watched_at: '2024-01-01T00:00:00Z', seconds: value };
            break;
          default:
            data = { ...ok, [where]: value };
        }
        let caught: unknown;
        try {
          validateRecordData(c, data);
        } catch (err) {
          caught = err;
        }
        assert.ok(caught instanceof EnclaveError && caught.code === 'invalid_field', String(caught));
        const visible = `${caught.message}\n${JSON.stringify(caught.details)}`;
        assert.ok(!visible.includes(value), `the value leaked: ${visible}`);
        assert.ok(!visible.includes('\u2063val:'), `part of the value leaked: ${visible}`);
      }),
      { numRuns: 300 },
    );
  });
});

void describe('recordDataSchema', () => {
  void it('lists required fields and forbids others', () => {
    const s = recordDataSchema(USERS) as { required: string[]; additionalProperties: boolean };
    assert.deepEqual(s.required, ['user_id', 'username', 'email']);
    assert.equal(s.additionalProperties, false);
  });
});

void describe('validateRecordId', () => {
  void it('accepts ids of letters, digits and . _ : - up to 128 characters', () => {
    for (const id of ['a', 'A1', 'rec-1', 'x.y_z:0', '9'.repeat(128)]) assert.equal(validateRecordId(id), id);
  });
  void it('refuses anything else with invalid_request on the id field', () => {
    for (const id of ['', '-a', '.a', 'a b', 'a/b', '9'.repeat(129), 'é', '../etc', 'a\n']) {
      assert.throws(() => validateRecordId(id), (err: unknown) => err instanceof EnclaveError && err.code === 'invalid_request' && err.details?.field === 'id', JSON.stringify(id));
    }
  });
});

void describe('splitRecord', () => {
  void it('puts protected fields in the sealed part and public fields in the clear part', () => {
    const data = { user_id: 'u1', username: 'neo', email: 'neo@x.test', phone: null };
    assert.deepEqual(splitRecord(USERS, data), { publicData: { user_id: 'u1', username: 'neo' }, protectedData: { email: 'neo@x.test', phone: null } });
  });

  void it('has no protected part when the record carries no protected field', () => {
    assert.deepEqual(splitRecord(VIDEOS, { owner_id: 'o', title: 't', views: 1, published_at: '2024-01-01T00:00:00Z' }).protectedData, null);
    assert.deepEqual(splitRecord(USERS, { user_id: 'u1', username: 'neo' }), { publicData: { user_id: 'u1', username: 'neo' }, protectedData: null });
  });

  void it('property: every field lands in exactly one part, protected ones never in the clear', () => {
    const fields = [...K.fields.keys()];
    fc.assert(
      fc.property(fc.subarray(fields), fc.string(), (present, value) => {
        const data = Object.fromEntries(present.map((f) => [f, value]));
        const { publicData, protectedData } = splitRecord(K, data);
        for (const f of present) {
          const isProtected = K.fields.get(f)?.class === 'protected';
          assert.equal(Object.hasOwn(publicData, f), !isProtected, f);
          assert.equal(protectedData !== null && Object.hasOwn(protectedData, f), isProtected, f);
        }
        assert.equal(Object.keys(publicData).length + Object.keys(protectedData ?? {}).length, present.length);
      }),
    );
  });
});

void describe('recordAad', () => {
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

  void it('differs when collection, id, subject or version differ', () => {
    const base = hex(recordAad('users', 'r1', 's1', 1));
    assert.equal(hex(recordAad('users', 'r1', 's1', 1)), base, 'deterministic');
    for (const other of [recordAad('messages', 'r1', 's1', 1), recordAad('users', 'r2', 's1', 1), recordAad('users', 'r1', 's2', 1), recordAad('users', 'r1', 's1', 2)]) {
      assert.notEqual(hex(other), base);
    }
  });

  void it('property: distinct tuples never share associated data (no separator ambiguity)', () => {
    const part = fc.string({ unit: fc.constantFrom('a', 'b', ':', '"', ',', '\\', '/', '\u0000', '['), maxLength: 4 });
    const tuple = fc.tuple(part, part, part, fc.integer({ min: 0, max: 3 }));
    fc.assert(
      fc.property(tuple, tuple, (a, b) => {
        fc.pre(JSON.stringify(a) !== JSON.stringify(b));
        assert.notEqual(hex(recordAad(...a)), hex(recordAad(...b)));
      }),
      { numRuns: 2000 },
    );
  });

  void it('record and data-key associated data never coincide', () => {
    assert.notEqual(hex(recordAad('a', 'b', 'c', 1)), hex(subjectKeyAad('a', 'b', 'c')));
    assert.notEqual(hex(subjectKeyAad('trusted-us', 's1', 'k1')), hex(subjectKeyAad('eu-central', 's1', 'k1')));
  });
});
