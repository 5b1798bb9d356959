// The `log:` section of the configuration: defaults, and every malformed case refused with invalid_config
// naming the key; the starter configuration gives the log actions to the gatekeeper, the trusted provider
// and the regulator only, and no configuration can give them to the parent company.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BreakableLog } from '../helpers/breakable-log.ts';
import { errorCode, makeHttpFixture } from '../helpers/http.ts';
import { defaultLogOrigin, LOG_DEFAULTS } from '../../src/core/config.ts';
import { isEnclaveError } from '../../src/core/errors.ts';
import { CedarDecisionPoint } from '../../src/services/cedar-decision-point.ts';
import { GrantIndex } from '../../src/services/grant-index.ts';
import { PolicyEngine } from '../../src/services/policy-engine.ts';
import { formatVerifierKey, generateNoteKey, parseVerifierKey, SIG_TYPE_COSIGNATURE } from '../../src/core/tlog/index.ts';
import { parseConfigText } from '../../src/services/config-loader.ts';
import { starterConfig } from '../../src/services/starter-config.ts';

const witnessKey = generateNoteKey('witness.example', SIG_TYPE_COSIGNATURE).vkey;

function withLog(section: string, name = 'Acme US'): string {
  return starterConfig({ name }).replace(/^log:\n(?: {2}.*\n|\n)*?(?=# The root key)/m, section === '' ? '' : `log:\n${section}\n\n`);
}

function refused(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseConfigText(text, 'enclave.yaml', '/tmp'),
    (err) => isEnclaveError(err, 'invalid_config') && pattern.test(err.message),
  );
}

void describe('log configuration', () => {
  void it('defaults: its own SQLite file, an origin derived from the name, a checkpoint every half second, no witnesses', () => {
    const config = parseConfigText(withLog(''), 'enclave.yaml', '/tmp');
    assert.deepEqual(config.log, {
      storage: LOG_DEFAULTS.storage,
      origin: 'enclave/acme-us',
      checkpointIntervalMs: 500,
      maxBatch: LOG_DEFAULTS.maxBatch,
      maxQueue: LOG_DEFAULTS.maxQueue,
      commitTimeoutMs: 30_000,
      witnesses: [],
      witnessQuorum: 0,
    });
    assert.equal(defaultLogOrigin('  ++  '), 'enclave/log');
  });

  void it('the starter configuration parses with its log section', () => {
    const config = parseConfigText(starterConfig({ name: 'demo' }), 'enclave.yaml', '/tmp');
    assert.equal(config.log.origin, 'enclave/demo');
  });

  void it('accepts witnesses with a quorum', () => {
    const config = parseConfigText(
      withLog(`  origin: log.example.com/us\n  witnesses:\n    - { name: witness.example, url: "https://w.example", vkey: "${witnessKey}" }\n  witness_quorum: 1`),
      'enclave.yaml',
      '/tmp',
    );
    assert.deepEqual(config.log.witnesses, [{ name: 'witness.example', url: 'https://w.example', vkey: witnessKey }]);
    assert.equal(config.log.witnessQuorum, 1);
  });

  void it('refuses what would break the log\'s identity or its witnesses', () => {
    refused(withLog('  origin: "has space"'), /log\.origin/);
    refused(withLog('  origin: "a+b"'), /log\.origin/);
    refused(withLog('  witness_quorum: 1'), /log\.witness_quorum \(1\) must not exceed/);
    refused(withLog('  witnesses:\n    - { name: witness.example, url: "https://w.example", vkey: "garbage" }'), /log\.witnesses\[0\]\.vkey is not a cosignature/);
    refused(withLog(`  witnesses:\n    - { name: witness.example, url: "https://w.example", vkey: "${generateNoteKey('witness.example').vkey}" }`), /cosignature/);
    refused(withLog(`  witnesses:\n    - { name: other.example, url: "https://w.example", vkey: "${witnessKey}" }`), /another name/);
    refused(
      withLog(`  witnesses:\n    - { name: witness.example, url: "https://a.example", vkey: "${witnessKey}" }\n    - { name: witness.example, url: "https://b.example", vkey: "${witnessKey}" }`),
      /listed twice/,
    );
    // The same public key under a second name: its cosignatures verify for both names.
    const relabelled = formatVerifierKey('other.example', SIG_TYPE_COSIGNATURE, parseVerifierKey(witnessKey).key);
    refused(
      withLog(`  witnesses:\n    - { name: witness.example, url: "https://a.example", vkey: "${witnessKey}" }\n    - { name: other.example, url: "https://b.example", vkey: "${relabelled}" }\n  witness_quorum: 2`),
      /log\.witnesses\[1\]\.vkey is the same public key as log\.witnesses\[0\]\.vkey/,
    );
    refused(withLog(`  witnesses:\n    - { name: witness.example, url: "ftp://w.example", vkey: "${witnessKey}" }`), /url/);
    refused(withLog('  checkpoint_interval_ms: 10'), /checkpoint_interval_ms/);
    refused(withLog('  group_commit: { max_batch: 0 }'), /max_batch/);
    refused(withLog('  group_commit: { commit_timeout_ms: 999 }'), /log\.group_commit\.commit_timeout_ms must be >= 1000/);
    refused(withLog('  group_commit: { commit_timeout_ms: 600001 }'), /commit_timeout_ms must be <= 600000/);
    refused(withLog('  typo: 1'), /typo|additional/);
  });

  void it('log.group_commit.commit_timeout_ms is the bound a running enclave keeps: a read whose entry is never confirmed fails with 503 within it', async () => {
    const log = new BreakableLog();
    const h = await makeHttpFixture({ open: { logStoreFactory: log.factory }, config: (yaml) => yaml.replace(/^log:\n/m, 'log:\n  group_commit: { commit_timeout_ms: 1000 }\n') });
    try {
      assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'ct-ann', country: 'US' })).statusCode, 201);
      log.hung = true;
      const started = performance.now();
      const res = await h.call('service', 'GET', '/v1/subjects/ct-ann');
      const took = performance.now() - started;
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(errorCode(res), 'log_unavailable');
      // The default bound is 30 s: answering well before it shows the configured one is in force.
      assert.ok(took < 15_000, `answered after ${Math.round(took)} ms`);
    } finally {
      log.hung = false;
      await h.close();
    }
  });

  void it('gives log.read and log.search to the gatekeeper, the provider and the regulator; disclosure to officers only', () => {
    const config = parseConfigText(starterConfig(), 'enclave.yaml', '/tmp');
    const engine = new PolicyEngine(config);
    engine.activate(1, PolicyEngine.defaultText());
    const decide = new CedarDecisionPoint({ config, engine, grants: new GrantIndex() });
    const who = (org: string, role: string) => ({ id: `${role}-1`, org, orgKind: config.orgs.get(org)?.kind ?? 'service', role, tokenId: 't' });
    const allowed = (org: string, role: string, action: 'log.read' | 'log.search' | 'log.disclose_key') => decide.decideNow({ principal: who(org, role), action, now: new Date() }).allow;
    for (const [org, role] of [['gatekeeper', 'officer'], ['gatekeeper', 'approver'], ['trusted-provider', 'monitor'], ['regulator', 'auditor']]) {
      assert.ok(allowed(org ?? '', role ?? '', 'log.read') && allowed(org ?? '', role ?? '', 'log.search'), `${org}/${role}`);
    }
    for (const [org, role] of [['parent', 'engineer'], ['platform', 'service']]) {
      assert.ok(!allowed(org ?? '', role ?? '', 'log.read') && !allowed(org ?? '', role ?? '', 'log.search'), `${org}/${role}`);
    }
    assert.ok(allowed('gatekeeper', 'officer', 'log.disclose_key'));
    assert.ok(!allowed('regulator', 'auditor', 'log.disclose_key'));
  });

  void it('refuses a configuration that gives the parent company any log action', () => {
    for (const action of ['log.read', 'log.search', 'log.disclose_key']) {
      const text = starterConfig().replace(/(id: engineer\n\s+actions: \[)/, `$1${action}, `);
      refused(text, new RegExp(`must not include ${action.replace('.', '\\.')}: .*transparency log`));
    }
  });
});
