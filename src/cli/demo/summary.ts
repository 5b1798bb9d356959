// What the demo prints: where the data went, the principals' tokens, and requests to paste.
import type { EnclaveConfig } from '../../core/config.ts';
import { columns, count, seconds, table } from '../output.ts';
import type { DemoToken } from './principals.ts';
import type { Population } from './population.ts';
import type { DemoMigration, LegacyMigration } from './migrate-legacy.ts';

/** The purpose the demo's platform service states (one of those the starter configuration gives it). */
export const DEMO_SERVICE_PURPOSE = 'account';

export interface SiteCount {
  readonly jurisdiction: string;
  readonly site: string;
  readonly operator: string;
  readonly subjects: number;
  readonly records: number;
}

export function describeScenario(config: EnclaveConfig, dir: string, users: number, seed: number): string {
  const homes = [...config.jurisdictions.values()].map((j) => `${j.id} (${j.countries.length > 4 ? `${j.countries.length} countries` : j.countries.join(', ')}) → ${j.homeSite ?? 'no home site'}`);
  const legacy = [...config.sites.values()].filter((s) => s.role === 'legacy').map((s) => `${s.id} (${s.country})`);
  return [
    `Enclave demo: a video platform's global user base of ${count(users)} synthetic people (seed ${seed})`,
    columns([
      ['directory', `${dir} (configuration: ${dir}/enclave.yaml)`],
      ['jurisdictions', homes.join('; ')],
      ['legacy sites', `${legacy.join(', ')}: the parent company's old data centers`],
    ]),
  ].join('\n');
}

/** Users of the population whose country belongs to no jurisdiction, by country (they stay at the legacy sites). */
export function outsideUsers(population: Population, config: EnclaveConfig): Map<string, number> {
  const out = new Map<string, number>();
  for (let i = 0; i < population.size; i++) {
    const c = population.countryOf(i);
    if (!config.countryIndex.has(c)) out.set(c, (out.get(c) ?? 0) + 1);
  }
  return out;
}

export function describeMigration(m: DemoMigration, sites: readonly SiteCount[], outside: ReadonlyMap<string, number>, records: ReadonlyMap<string, number>): string {
  const jurisdictions = [...new Set(m.sites.flatMap((s) => s.plan.tables.flatMap((t) => Object.keys(t.moves))))].sort();
  const homes = new Map(m.sites.flatMap((s) => s.plan.tables.flatMap((t) => Object.entries(t.moves).map(([j, x]) => [j, x.site] as const))));
  const moved = (s: LegacyMigration, j: string) => s.plan.tables.reduce((n, t) => n + (t.moves[j]?.rows ?? 0), 0);
  const lines = [
    `The parent company's legacy data centers held the global user base in its old application's schema (SQLite). In ${seconds(m.ms)}, each was planned, copied through the vault (each record validated, routed to its subject's home site, protected fields sealed under the subject's key), verified (digests and Merkle roots of both sides), and purged at the source (secure_delete, WAL checkpoint, VACUUM):`,
    '',
    table(
      ['LEGACY SITE', 'USERS', 'ROWS', ...jurisdictions.map((j) => `TO ${j} (${homes.get(j) ?? '?'})`), 'STAYED', 'PURGED', 'DELETION CERTIFICATE'],
      m.sites.map((s) => [
        s.build.site,
        s.build.users,
        s.build.rows,
        ...jurisdictions.map((j) => moved(s, j)),
        s.run.counters.stayed,
        s.purge.tables.reduce((n, t) => n + t.purged, 0),
        s.purge.certificate.id,
      ]),
    ),
  ];
  const total = [...outside.values()].reduce((a, b) => a + b, 0);
  if (total > 0) {
    const countries = [...outside.entries()].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${count(n)}`);
    lines.push(`  ${count(total)} users outside every jurisdiction stay at the legacy sites, untouched (equal digests before and after the purge): ${countries.join(', ')}.`);
  }
  lines.push(
    '',
    'Where the data lives now',
    table(['JURISDICTION', 'HOME SITE', 'OPERATOR', 'SUBJECTS', 'RECORDS'], sites.map((s) => [s.jurisdiction, s.site, s.operator, s.subjects, s.records])),
    '',
    'Records by collection',
    table(['COLLECTION', 'RECORDS'], [...records.entries()].map(([c, n]) => [c, n])),
  );
  return lines.join('\n');
}

export function describeTokens(tokens: readonly (DemoToken & { as: string })[], file: string): string {
  return [
    `Demo principals and their tokens (also in ${file}, readable by you only)`,
    columns(tokens.map((t) => [t.principal, `${t.org}/${t.role}`, t.as, t.token])),
  ].join('\n');
}

/** A resident of the first jurisdiction with private messages: the subject of the examples. */
export function exampleSubject(population: Population, config: EnclaveConfig): string {
  const first = [...config.jurisdictions.keys()][0];
  for (let i = 0; i < population.size; i++) {
    if (config.countryIndex.get(population.countryOf(i)) !== first) continue;
    const user = population.user(i);
    if (user.records.some((r) => r.collection === 'messages')) return user.id;
  }
  return population.userId(0);
}

export function tryIt(url: string, tokens: readonly DemoToken[], subject: string, outsideCountry: string): string {
  const token = (principal: string) => tokens.find((t) => t.principal === principal)?.token ?? '<token>';
  const auth = (principal: string) => `-H 'Authorization: Bearer ${token(principal)}'`;
  const app = `${auth('app')} -H 'Enclave-Purpose: ${DEMO_SERVICE_PURPOSE}'`;
  const as = (principal: string) => `ENCLAVE_SERVER=${url} ENCLAVE_TOKEN=${token(principal)} npx enclave`;
  return [
    'Try it from another terminal:',
    `  # 1. The platform service, stating its purpose, reads ${subject}'s account record, protected fields (email, phone, birthdate) included:`,
    `  curl -s ${app} ${url}/v1/collections/users/records/${subject}`,
    '',
    '  # 2. The parent company\'s engineer reads the same record: protected fields are withheld and listed in "withheld":',
    `  curl -s ${auth('parent')} ${url}/v1/collections/users/records/${subject}`,
    '',
    `  # 3. The parent tries to read ${subject}'s private messages: recipient, body and time are withheld from every one:`,
    `  curl -s ${auth('parent')} '${url}/v1/subjects/${subject}/records?collection=messages'`,
    '',
    `  # 4. Registering a resident of ${outsideCountry}, a country in no jurisdiction, is refused (422 no_jurisdiction):`,
    `  curl -s ${app} -H 'Content-Type: application/json' -d '{"id":"newcomer-1","country":"${outsideCountry}"}' ${url}/v1/subjects`,
    '',
    `  # 5. The gatekeeper: alice (officer) asks to read ${subject}'s messages; dana (gatekeeper) and the trusted provider approve;`,
    '  #    alice then reads them under the grant, which names itself in every response and expires by itself:',
    `  ${as('alice')} access request --subject ${subject} --collection messages --purpose support --code support-ticket --reason "ticket 4711: the user reports missing messages"`,
    `  ${as('dana')} access approve <request id>`,
    `  ${as('provider')} access approve <request id>`,
    `  ${as('alice')} record list ${subject} --collection messages --purpose support`,
    '',
    `  # 6. The policies every decision is made by, and how to change them (a proposal k others approve): ${as('regulator')} policy show`,
    '',
    `  # More: ${url}/openapi.json, and \`enclave --help\``,
  ].join('\n');
}
