// Every command answers --help with usage and examples and exit code 0; usage errors are one line on
// stderr with exit code 2 and never a stack trace.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { runCli } from '../../src/cli/program.ts';
import { killAll, memoryIo, oneErrorLine, run } from './helpers.ts';

const COMMANDS = [
  [],
  ['init'],
  ['serve'],
  ['unseal'],
  ['seal'],
  ['token'],
  ['token', 'create'],
  ['token', 'approve'],
  ['token', 'reject'],
  ['token', 'list'],
  ['token', 'rotate'],
  ['token', 'revoke'],
  ['access'],
  ['access', 'request'],
  ['access', 'approve'],
  ['access', 'deny'],
  ['access', 'show'],
  ['access', 'list'],
  ['access', 'revoke'],
  ['break-glass'],
  ['break-glass', 'open'],
  ['break-glass', 'review'],
  ['break-glass', 'list'],
  ['policy'],
  ['policy', 'show'],
  ['policy', 'propose'],
  ['policy', 'approve'],
  ['policy', 'reject'],
  ['policy', 'proposals'],
  ['subject'],
  ['subject', 'register'],
  ['subject', 'show'],
  ['subject', 'rehome'],
  ['record'],
  ['record', 'get'],
  ['record', 'put'],
  ['record', 'delete'],
  ['record', 'list'],
  ['erase'],
  ['demo'],
  ['migrate'],
  ['migrate', 'plan'],
  ['migrate', 'run'],
  ['migrate', 'verify'],
  ['migrate', 'purge'],
  ['migrate', 'certificate'],
] as const;

after(killAll);

describe('enclave --help', () => {
  for (const path of COMMANDS) {
    it(`enclave ${path.join(' ')} --help prints usage and examples, exit 0`, async () => {
      const io = memoryIo();
      const code = await runCli([...path, '--help'], io);
      await new Promise((r) => setImmediate(r));
      assert.equal(code, 0);
      assert.match(io.out(), new RegExp(`^Usage: enclave${path.map((p) => ` ${p}`).join('')} `));
      assert.match(io.out(), /\nExamples:\n {2}\$ /);
      assert.equal(io.err(), '');
    });
  }

  it('works the same in a real process', async () => {
    const r = await run(['record', 'put', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: enclave record put \[options\] <collection> \[id\]/);
    assert.match(r.stdout, /--if-match <etag>/);
    assert.equal(r.stderr, '');
  });

  it('prints the version', async () => {
    const r = await run(['--version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  it('never shows the value of ENCLAVE_TOKEN in help', async () => {
    const r = await run(['record', 'get', '--help'], { env: { ENCLAVE_TOKEN: 'enc_do-not-print-me' } });
    assert.equal(r.code, 0);
    assert.doesNotMatch(r.stdout + r.stderr, /do-not-print-me/);
    assert.match(r.stdout, /env: ENCLAVE_TOKEN/);
  });
});

describe('usage errors', () => {
  const cases: readonly (readonly [string, readonly string[], RegExp])[] = [
    ['an unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
    ['a misspelt command, with a suggestion', ['tokn'], /unknown command 'tokn'.*Did you mean token\?/],
    ['a missing required option', ['token', 'create', '--principal', 'x', '--org', 'platform'], /required option '--role <role>' not specified/],
    ['a missing argument', ['record', 'get', 'users'], /missing required argument 'id'/],
    ['too many arguments', ['record', 'get', 'users', 'a', 'b'], /too many arguments/],
    ['an unknown option', ['seal', '--bogus'], /unknown option '--bogus'/],
    ['an invalid option value', ['demo', '--users', 'many'], /--users <n>.*expected a whole number/],
    ['an invalid --ttl', ['token', 'create', '--principal', 'x', '--org', 'platform', '--role', 'service', '--ttl', 'soon'], /--ttl <seconds>.*expected a whole number/],
    ['an invalid port', ['serve', '--port', '70000'], /expected a whole number from 0 to 65535/],
    ['an invalid country', ['subject', 'register', 'x', '--country', 'USA'], /ISO 3166-1 alpha-2/],
    ['conflicting options', ['unseal', '--status', '--reset'], /cannot be used with/],
    ['a bad server URL', ['subject', 'show', 'x', '--server', 'not a url', '--token', 'enc_x'], /--server must be a URL/],
    ['no token for a command that needs one', ['subject', 'show', 'x', '--server', 'http://127.0.0.1:9'], /needs a bearer token/],
    ['record put without data', ['record', 'put', 'users', 'x', '--server', 'http://127.0.0.1:9', '--token', 'enc_x'], /exactly one of --data/],
    ['record put with data that is not JSON', ['record', 'put', 'users', '--data', '{nope', '--server', 'http://127.0.0.1:9', '--token', 'enc_x'], /--data is not valid JSON/],
    ['--if-match with --create', ['record', 'put', 'users', 'x', '--create', '--if-match', '"2.mww7j89t"', '--data', '{}', '--server', 'http://127.0.0.1:9', '--token', 'enc_x'], /--if-match applies to replacing/],
    // A bare version is no entity-tag of the server's (a record created again starts at version 1 again).
    ['a bare version for record put --if-match', ['record', 'put', 'users', 'x', '--if-match', '2', '--data', '{}', '--server', 'http://127.0.0.1:9', '--token', 'enc_x'], /--if-match <etag>.*not a bare version/],
    ['a quoted bare version for record delete --if-match', ['record', 'delete', 'users', 'x', '--if-match', '"2"', '--server', 'http://127.0.0.1:9', '--token', 'enc_x'], /--if-match <etag>.*not a bare version/],
    ['an --if-match that is no entity-tag', ['record', 'put', 'users', 'x', '--if-match', '2 x', '--data', '{}', '--server', 'http://127.0.0.1:9', '--token', 'enc_x'], /--if-match <etag>.*expected the record's ETag/],
    ['init with more threshold than officers', ['init', '--dir', '/nonexistent/never-created', '--officers', 'a,b', '--threshold', '3'], /--threshold 3 is more than the 2 officers/],
    ['init with an invalid officer name', ['init', '--dir', '/nonexistent/never-created', '--officers', 'Alice,bob'], /"Alice" is not a valid name/],
    // Values the API would refuse are refused before any request is sent (the server below is never reached).
    ['a principal id the API would refuse', ['token', 'create', '--principal', 'App', '--org', 'platform', '--role', 'service', '--server', 'http://127.0.0.1:9', '--token', 'enc_x'], /--principal <id>.*expected lower case letters/],
    ['a proposal id that is none', ['token', 'approve', 'nope', '--server', 'http://127.0.0.1:9', '--token', 'enc_x'], /value 'nope' is invalid for argument 'proposal'.*expected a proposal id/],
    ['a token id that is none', ['token', 'revoke', 'prop_AbC123def456', '--server', 'http://127.0.0.1:9', '--token', 'enc_x'], /expected a token id/],
    ['a request id that is none', ['access', 'approve', 'tok_AbC123def456', '--server', 'http://127.0.0.1:9', '--token', 'enc_x'], /expected a request id/],
    ['a record id the API would refuse', ['record', 'get', 'users', '../etc', '--server', 'http://127.0.0.1:9', '--token', 'enc_x'], /value '..\/etc' is invalid for argument 'id'.*expected an id of letters/],
    ['a subject id the API would refuse', ['erase', 'a b', '--server', 'http://127.0.0.1:9', '--token', 'enc_x'], /expected an id of letters/],
    ['a state requests are never in', ['access', 'list', '--status', 'bogus', '--server', 'http://127.0.0.1:9', '--token', 'enc_x'], /Allowed choices are pending, approved, denied, expired/],
    ['a state proposals are never in', ['policy', 'proposals', '--status', 'approved', '--server', 'http://127.0.0.1:9', '--token', 'enc_x'], /Allowed choices are pending, applied, rejected, failed, expired/],
  ];
  for (const [what, args, message] of cases) {
    it(`${what}: one line on stderr, exit 2`, async () => {
      const r = await run(args);
      assert.equal(r.code, 2, r.stderr);
      const e = oneErrorLine(r);
      assert.equal(e.code, 'invalid_argument');
      assert.match(e.message, message);
      assert.equal(r.stdout, '');
    });
  }

  it('a command group without a subcommand shows its help on stderr, exit 2', async () => {
    const r = await run(['token']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^Usage: enclave token/);
    assert.equal(r.stdout, '');
  });
});
