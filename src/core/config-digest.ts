// What an unseal logs of the configuration (invariant 6). Who may read what, and the approval rules, are
// in the configuration file, which no quorum approves: its operator edits it and restarts. A restart
// needs k officers to unseal, so each unseal logs a digest per section and the seal status names the
// sections changed since the last unseal: the officers see the change before they enter their shares,
// and outsiders see it in the log.
import type { RawConfig } from './config-schema.ts';
import { contentDigest, type Canonical } from './content-digest.ts';

/** The sections that decide where data lives, who reads what, and how approvals and the log work. */
export const GOVERNED_SECTIONS = ['jurisdictions', 'sites', 'orgs', 'collections', 'gatekeeper', 'seal', 'log', 'control'] as const;
export type GovernedSection = (typeof GOVERNED_SECTIONS)[number];

/** Section → `sha256:<hex>` of its canonical JSON (RFC 8785), with storage URLs stripped of credentials. */
export type ConfigDigests = Readonly<Partial<Record<GovernedSection, string>>>;

/**
 * A storage URL as it names a place: a password or query parameters (where a driver's credentials may
 * sit) are left out, since the digest is published in the log and a short password is guessed from it.
 */
export function storageIdentity(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url;
  }
  if (u.host === '') return url; // sqlite:path and the like: no credentials in them
  const user = u.username === '' ? '' : `${u.username}@`;
  return `${u.protocol}//${user}${u.host}${u.pathname}`;
}

function withoutCredentials(value: unknown, key?: string): Canonical {
  if (typeof value === 'string') return key === 'storage' ? storageIdentity(value) : value;
  if (Array.isArray(value)) return value.map((v) => withoutCredentials(v));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutCredentials(v, k)]));
  }
  return value as Canonical;
}

export function configDigests(raw: RawConfig): ConfigDigests {
  const out: Partial<Record<GovernedSection, string>> = {};
  for (const section of GOVERNED_SECTIONS) {
    const value = (raw as Record<string, unknown>)[section];
    if (value !== undefined) out[section] = contentDigest(withoutCredentials(value));
  }
  return out;
}

/** The sections whose digest differs, present in one and not the other included; in GOVERNED_SECTIONS order. */
export function changedSections(before: ConfigDigests, after: ConfigDigests): GovernedSection[] {
  return GOVERNED_SECTIONS.filter((s) => before[s] !== after[s]);
}
