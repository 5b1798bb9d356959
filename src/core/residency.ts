// Residency (invariant 1): a subject's data lives only at the home site of the jurisdiction its residence
// country belongs to. There is no default site: an unmapped country or a jurisdiction without a home fails.
import type { EnclaveConfig, JurisdictionDef, SiteDef } from './config.ts';
import { EnclaveError } from './errors.ts';

export interface Residence {
  readonly country: string;
  readonly jurisdiction: JurisdictionDef;
  readonly site: SiteDef;
}

export function normalizeCountry(country: string): string {
  const c = country.trim().toUpperCase();
  if (!/^[A-Z]{2}$/.test(c)) {
    throw new EnclaveError('invalid_request', 'country must be an ISO 3166-1 alpha-2 code such as "US"', { details: { field: 'country' } });
  }
  return c;
}

export function resolveResidence(config: EnclaveConfig, country: string): Residence {
  const code = normalizeCountry(country);
  const jid = config.countryIndex.get(code);
  const jurisdiction = jid === undefined ? undefined : config.jurisdictions.get(jid);
  if (!jurisdiction) {
    throw new EnclaveError('no_jurisdiction', `country ${code} belongs to no configured jurisdiction; its residents' data has no lawful home here`, {
      details: { country: code },
    });
  }
  const site = jurisdiction.homeSite === undefined ? undefined : config.sites.get(jurisdiction.homeSite);
  if (!site || site.role !== 'home') {
    throw new EnclaveError('no_home_site', `jurisdiction "${jurisdiction.id}" has no home site configured`, {
      details: { jurisdiction: jurisdiction.id },
    });
  }
  return { country: code, jurisdiction, site };
}

/** Sites where a jurisdiction's data may lawfully be at rest: its home and its approved backups. */
export function permittedSites(jurisdiction: JurisdictionDef): readonly string[] {
  return jurisdiction.homeSite === undefined ? jurisdiction.backupSites : [jurisdiction.homeSite, ...jurisdiction.backupSites];
}
