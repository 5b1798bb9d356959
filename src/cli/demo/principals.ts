// The demo's principals: one or more per org of the starter configuration, with their bearer tokens.
import type { Enclave } from '../../services/enclave.ts';
import { writePrivateFile } from '../../storage/private-files.ts';

export interface DemoPrincipal {
  readonly principal: string;
  readonly org: string;
  readonly role: string;
  /** Who they stand for in the scenario. */
  readonly as: string;
}

export const DEMO_PRINCIPALS: readonly DemoPrincipal[] = [
  { principal: 'alice', org: 'gatekeeper', role: 'officer', as: 'gatekeeper officer' },
  { principal: 'bob', org: 'gatekeeper', role: 'officer', as: 'gatekeeper officer' },
  { principal: 'carol', org: 'gatekeeper', role: 'officer', as: 'gatekeeper officer' },
  { principal: 'dana', org: 'gatekeeper', role: 'approver', as: 'gatekeeper approver' },
  { principal: 'app', org: 'platform', role: 'service', as: "the app's services" },
  { principal: 'parent', org: 'parent', role: 'engineer', as: 'parent-company engineer' },
  { principal: 'provider', org: 'trusted-provider', role: 'monitor', as: 'trusted technology provider' },
  { principal: 'regulator', org: 'regulator', role: 'auditor', as: 'regulator / auditor' },
];

export const TOKENS_FILE = 'demo-tokens.json';

export interface DemoToken {
  readonly principal: string;
  readonly org: string;
  readonly role: string;
  readonly token: string;
}

export async function issueDemoTokens(enclave: Enclave): Promise<(DemoToken & { as: string })[]> {
  const issued: (DemoToken & { as: string })[] = [];
  for (const p of DEMO_PRINCIPALS) {
    const t = await enclave.tokens.issue({ principal: p.principal, org: p.org, role: p.role, label: 'enclave demo' });
    issued.push({ principal: p.principal, org: p.org, role: p.role, token: t.secret, as: p.as });
  }
  return issued;
}

/** Writes the tokens readable by the owner only. */
export function writeDemoTokens(path: string, tokens: readonly DemoToken[]): void {
  const doc = tokens.map(({ principal, org, role, token }) => ({ principal, org, role, token }));
  writePrivateFile(path, `${JSON.stringify(doc, null, 2)}\n`);
}
