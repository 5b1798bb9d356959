// A real enclave in a temporary directory: starter configuration, SQLite stores on disk, unsealed with
// the development shares, and one token per demo role. Tests use it instead of mocks.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Principal } from '../../src/core/principal.ts';
import { loadConfig } from '../../src/services/config-loader.ts';
import { openEnclave, type Enclave, type OpenOptions } from '../../src/services/enclave.ts';
import { CONFIG_FILE, initEnclave } from '../../src/services/init-service.ts';
import { readDevShares } from '../../src/services/dev-shares.ts';
import { starterConfig } from '../../src/services/starter-config.ts';

export const ROLES = {
  officer: { org: 'gatekeeper', role: 'officer' },
  approver: { org: 'gatekeeper', role: 'approver' },
  service: { org: 'platform', role: 'service' },
  parent: { org: 'parent', role: 'engineer' },
  provider: { org: 'trusted-provider', role: 'monitor' },
  regulator: { org: 'regulator', role: 'auditor' },
} as const;
export type RoleName = keyof typeof ROLES;
/** The purpose the fixture's platform service states unless a test says otherwise. */
export const SERVICE_PURPOSE = 'account';

export interface Fixture {
  readonly dir: string;
  readonly configPath: string;
  readonly dataDir: string;
  readonly enclave: Enclave;
  /** Bearer secrets by role name. */
  readonly tokens: Record<RoleName, string>;
  readonly principals: Record<RoleName, Principal>;
  /** Every share, by officer, as init printed them. */
  readonly shares: readonly string[];
  close(): Promise<void>;
}

export function tempDir(prefix = 'enclave-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface FixtureOptions {
  readonly sealed?: boolean;
  readonly open?: OpenOptions;
  /** Edits the starter configuration before `init` (e.g. to put the stores on PostgreSQL). */
  readonly config?: (starter: string) => string;
}

export async function makeFixture(options: FixtureOptions = {}): Promise<Fixture> {
  const dir = tempDir();
  if (options.config) writeFileSync(join(dir, CONFIG_FILE), options.config(starterConfig()));
  const init = await initEnclave(dir, { dev: true });
  const enclave = await openEnclave(loadConfig(init.configPath), options.open);
  if (!options.sealed) for (const s of readDevShares(init.dataDir) ?? []) await enclave.seal.submit(s);
  const tokens = {} as Record<RoleName, string>;
  const principals = {} as Record<RoleName, Principal>;
  for (const [name, r] of Object.entries(ROLES) as [RoleName, (typeof ROLES)[RoleName]][]) {
    const issued = await enclave.tokens.issue({ principal: `${name}-1`, org: r.org, role: r.role });
    tokens[name] = issued.secret;
    const principal = await enclave.tokens.authenticate(issued.secret);
    // The platform service states one of its configured purposes, as its HTTP requests do (see http.ts).
    principals[name] = name === 'service' ? { ...principal, purpose: SERVICE_PURPOSE } : principal;
  }
  return {
    dir,
    configPath: init.configPath,
    dataDir: init.dataDir,
    enclave,
    tokens,
    principals,
    shares: init.shares.map((s) => s.share),
    async close() {
      await enclave.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
