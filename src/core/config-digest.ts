// What an unseal logs of the configuration (invariant 6). Who may read what, and the approval rules, are
// in the configuration file, which no quorum approves: its operator edits it and restarts. A restart
// needs k officers to unseal, so each unseal logs a digest per section and the seal status names the
// sections changed since the last unseal: the officers see the change before they enter their shares,
// and outsiders see it in the log.
import type { RawConfig } from './config-schema.ts';
import { contentDigest, type Canonical } from './content-digest.ts';

/**
 * The sections that decide where data lives, who reads what, and how approvals and the log work.
 * data_dir too: the relative SQLite paths of the stores (control, log, sites) are inside it; and server,
 * whose host and tls decide whether bearer tokens and the officers' shares cross a network in clear.
 */
export const GOVERNED_SECTIONS = ['data_dir', 'jurisdictions', 'sites', 'orgs', 'collections', 'gatekeeper', 'seal', 'log', 'control', 'server'] as const;
export type GovernedSection = (typeof GOVERNED_SECTIONS)[number];

/** Section → `sha256:<hex>` of its canonical JSON (RFC 8785), with storage URLs stripped of credentials. */
export type ConfigDigests = Readonly<Partial<Record<GovernedSection, string>>>;

/**
 * The parameters of a PostgreSQL storage URL (postgres-url.ts, which refuses any other): none is a secret,
 * and schema (where the tables are) and sslmode and sslrootcert (who can read them on the wire) matter.
 */
const PUBLIC_PARAMS: ReadonlySet<string> = new Set(['schema', 'sslmode', 'sslrootcert', 'connect_timeout', 'pool_size', 'application_name']);

/**
 * A storage URL as it names a place: its password, and the values of query parameters other than the
 * PostgreSQL ones (where a driver's credentials may sit), are left out, since the digest is published in
 * the log and a short password is guessed from it.
 */
export function storageIdentity(url: string): string {
  // The rest is a file name, `?` and `@` included (open-store.ts): no credentials, and every character counts.
  if (url.startsWith('sqlite:')) return url;
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {
    u = undefined;
  }
  // No URL with a host (a password holding "/", "?" or "#", jdbc:…, key=value text), or an "@" past the
  // host (`user:1234/rest@host` reads as port 1234 and path "/rest@host"): which part is secret cannot be
  // told, so only the scheme enters. Only backup and legacy sites can say so: the enclave opens none of
  // them, and refuses such a URL for the stores it opens.
  if (u === undefined || u.host === '' || `${u.pathname}${u.search}${u.hash}`.includes('@')) return `${/^[A-Za-z][A-Za-z0-9+.-]*:/.exec(url)?.[0] ?? ''}(withheld)`;
  const user = u.username === '' ? '' : `${u.username}@`;
  // Sorted: the parameters' order is not a change. Repeated names are kept, as written.
  const params = [...u.searchParams]
    .map(([k, v]) => (PUBLIC_PARAMS.has(k) ? `${encodeURIComponent(k)}=${encodeURIComponent(v)}` : encodeURIComponent(k)))
    .sort();
  return `${u.protocol}//${user}${u.host}${u.pathname}${params.length === 0 ? '' : `?${params.join('&')}`}`;
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
