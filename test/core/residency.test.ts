// Invariant 1: a subject's country decides their jurisdiction, and the jurisdiction's home site is the only
// place their records live. No default site: an unmapped country or a jurisdiction without a home fails.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parse } from 'yaml';
import { parseConfig, type EnclaveConfig } from '../../src/core/config.ts';
import { EnclaveError, type ErrorCode } from '../../src/core/errors.ts';
import { normalizeCountry, permittedSites, resolveResidence } from '../../src/core/residency.ts';
import { starterConfig } from '../../src/services/starter-config.ts';

interface RawDoc {
  jurisdictions: { id: string; countries: string[]; home_site?: string; backup_sites?: string[] }[];
  sites: { id: string; operator: string; country: string; role: string; storage: string }[];
}

/** The starter configuration plus a jurisdiction `ca` without a home site and a US backup site. */
function config(): EnclaveConfig {
  const d = parse(starterConfig()) as RawDoc;
  d.jurisdictions.push({ id: 'ca', countries: ['CA'] });
  d.sites.push({ id: 'us-backup', operator: 'trusted-provider', country: 'US', role: 'backup', storage: 'sqlite:sites/us-backup.db' });
  const us = d.jurisdictions[0];
  assert.ok(us);
  us.backup_sites = ['us-backup'];
  return parseConfig(d);
}
const CONFIG = config();

function fails(code: ErrorCode, fn: () => unknown, ...mentions: string[]): EnclaveError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof EnclaveError, `expected EnclaveError(${code}), got ${String(caught)}`);
  assert.equal(caught.code, code);
  for (const m of mentions) assert.ok(caught.message.includes(m), `${JSON.stringify(caught.message)} mentions ${m}`);
  return caught;
}

void describe('resolveResidence', () => {
  void it('maps a country to its jurisdiction and that jurisdiction\'s home site', () => {
    const cases: [string, string, string][] = [
      ['US', 'us', 'trusted-us'],
      ['PR', 'us', 'trusted-us'],
      ['GU', 'us', 'trusted-us'],
      ['DE', 'eu', 'eu-central'],
      ['FR', 'eu', 'eu-central'],
      ['SE', 'eu', 'eu-central'],
    ];
    for (const [country, jurisdiction, site] of cases) {
      const r = resolveResidence(CONFIG, country);
      assert.deepEqual([r.country, r.jurisdiction.id, r.site.id, r.site.role], [country, jurisdiction, site, 'home'], country);
    }
  });

  void it('normalizes lowercase and surrounding spaces', () => {
    assert.equal(resolveResidence(CONFIG, 'de').site.id, 'eu-central');
    assert.equal(resolveResidence(CONFIG, ' us ').country, 'US');
    assert.equal(resolveResidence(CONFIG, 'Pr').jurisdiction.id, 'us');
    assert.equal(normalizeCountry('\tfr\n'), 'FR');
  });

  void it('an unmapped country has no jurisdiction (never a default site)', () => {
    for (const c of ['BR', 'SG', 'JP', 'GB']) {
      const err = fails('no_jurisdiction', () => resolveResidence(CONFIG, c), c);
      assert.equal(err.details?.['country'], c);
    }
    // Singapore hosts a legacy site of the parent: still no lawful home for its residents here.
    assert.equal(CONFIG.sites.get('singapore')?.country, 'SG');
  });

  void it('a jurisdiction without a home site is no_home_site, naming the jurisdiction', () => {
    const err = fails('no_home_site', () => resolveResidence(CONFIG, 'ca'), 'jurisdiction "ca"');
    assert.equal(err.details?.['jurisdiction'], 'ca');
  });

  void it('an invalid country code is invalid_request on the country field', () => {
    for (const c of ['', 'U', 'USA', '12', 'U1', 'U S', 'ÜS', 'us-east', '🇺🇸']) {
      const err = fails('invalid_request', () => resolveResidence(CONFIG, c), 'ISO 3166-1 alpha-2');
      assert.equal(err.details?.field, 'country', JSON.stringify(c));
    }
  });

  void it('property: any string resolves to the home site of the jurisdiction listing that country, or fails with a typed error', () => {
    const known = [...CONFIG.countryIndex.keys()];
    const countries = fc.oneof(fc.constantFrom(...known), fc.stringMatching(/^[A-Za-z]{2}$/), fc.string({ maxLength: 4 }));
    fc.assert(
      fc.property(countries, (country) => {
        try {
          const r = resolveResidence(CONFIG, country);
          assert.equal(r.site.role, 'home');
          assert.ok(r.jurisdiction.countries.includes(r.country));
          assert.ok(r.jurisdiction.countries.includes(r.site.country), 'the home site lies inside the jurisdiction');
          assert.equal(r.jurisdiction.homeSite, r.site.id);
        } catch (err) {
          assert.ok(err instanceof EnclaveError, String(err));
          assert.ok(['no_jurisdiction', 'no_home_site', 'invalid_request'].includes(err.code), err.code);
        }
      }),
      { numRuns: 500 },
    );
  });
});

void describe('permittedSites', () => {
  void it('is the home site and the approved backups, never a legacy site', () => {
    const us = CONFIG.jurisdictions.get('us');
    const eu = CONFIG.jurisdictions.get('eu');
    const ca = CONFIG.jurisdictions.get('ca');
    assert.ok(us && eu && ca);
    assert.deepEqual(permittedSites(us), ['trusted-us', 'us-backup']);
    assert.deepEqual(permittedSites(eu), ['eu-central']);
    assert.deepEqual(permittedSites(ca), []);
    for (const j of CONFIG.jurisdictions.values()) {
      for (const s of permittedSites(j)) assert.notEqual(CONFIG.sites.get(s)?.role, 'legacy');
    }
  });
});
