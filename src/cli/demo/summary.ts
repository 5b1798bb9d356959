// What the demo prints: where the data went, the principals' tokens, and requests to paste.
import type { EnclaveConfig } from '../../core/config.ts';
import { columns, count, seconds } from '../output.ts';
import type { DemoToken } from './principals.ts';
import type { Population } from './population.ts';
import type { SeedReport } from './seed.ts';

/** The purpose the demo's platform service states (one of those the starter configuration gives it). */
export const DEMO_SERVICE_PURPOSE = 'account';

export interface SiteCount {
  readonly jurisdiction: string;
  readonly site: string;
  readonly operator: string;
  readonly subjects: number;
  readonly records: number;
}

function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? count(c) : c)))];
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => `  ${r.map((c, i) => (numeric[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()}`).join('\n');
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

export function describeSeeding(report: SeedReport, sites: readonly SiteCount[]): string {
  const lines = [
    `Seeded ${count(report.users - report.outside.users)} of ${count(report.users)} users in ${seconds(report.ms)} through the vault: each record validated, routed to its subject's home site, protected fields sealed under the subject's key.`,
    '',
    'Where the data lives',
    table(['JURISDICTION', 'HOME SITE', 'OPERATOR', 'SUBJECTS', 'RECORDS'], sites.map((s) => [s.jurisdiction, s.site, s.operator, s.subjects, s.records])),
  ];
  if (report.outside.users > 0) {
    const countries = [...report.outside.countries.entries()].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${count(n)}`);
    lines.push(
      `  ${count(report.outside.users)} users outside every jurisdiction stay at the legacy sites (migration: a later release): ${countries.join(', ')}; ${count(report.outside.records)} records not copied.`,
    );
  }
  lines.push('', 'Records by collection', table(['COLLECTION', 'RECORDS'], [...report.records.entries()].map(([c, n]) => [c, n])));
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
