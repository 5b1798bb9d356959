// `enclave init`: a commented starter configuration, the data directory, the control store and the root
// key split among the configured officers. Development mode also writes a local auto-unseal file.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnclaveError } from '../core/errors.ts';
import { makePrivateDir, writePrivateFile } from '../storage/private-files.ts';
import { loadConfig } from './config-loader.ts';
import { DEV_UNSEAL_FILE } from './dev-shares.ts';
import { openEnclave } from './enclave.ts';
import type { OfficerShare } from './seal-service.ts';
import { starterConfig, type StarterOptions } from './starter-config.ts';

export const CONFIG_FILE = 'enclave.yaml';

export interface BootstrapToken {
  readonly officer: string;
  readonly id: string;
  readonly secret: string;
}

export interface InitResult {
  readonly configPath: string;
  readonly dataDir: string;
  readonly shares: readonly OfficerShare[];
  /** One token per seal officer, with gatekeeper.bootstrap.role: the only tokens issued without a quorum. */
  readonly tokens: readonly BootstrapToken[];
  readonly threshold: number;
  readonly devUnsealPath: string | null;
  readonly wroteConfig: boolean;
}

export async function initEnclave(dir: string, options: StarterOptions & { dev?: boolean } = {}): Promise<InitResult> {
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, CONFIG_FILE);
  const wroteConfig = !existsSync(configPath);
  if (wroteConfig) writeFileSync(configPath, starterConfig(options), { mode: 0o640 });
  const config = loadConfig(configPath);
  // Made private before the stores are created in it, also when it existed (an existing directory keeps
  // its mode through mkdir): 0700, or init refuses with data_dir_insecure.
  makePrivateDir(config.dataDir);
  const enclave = await openEnclave(config);
  try {
    if (enclave.seal.status().initialized) {
      throw new EnclaveError('already_initialized', `${dir} is already initialized (its root key exists); nothing was changed`);
    }
    const shares = await enclave.seal.initialize(config.seal.officers, config.seal.threshold);
    // Bootstrap: with no token yet there is no quorum to approve one, so each officer gets a first token
    // here, next to their unseal share. Every later token is a proposal that k others approve.
    const { org, role } = config.gatekeeper.bootstrap;
    const tokens: BootstrapToken[] = [];
    for (const officer of config.seal.officers) {
      const t = await enclave.tokens.issue({ principal: officer, org, role, label: 'bootstrap (enclave init)' });
      tokens.push({ officer, id: t.id, secret: t.secret });
    }
    let devUnsealPath: string | null = null;
    if (options.dev) {
      devUnsealPath = join(config.dataDir, DEV_UNSEAL_FILE);
      const dev = { warning: 'DEVELOPMENT ONLY: these shares unseal this enclave without its officers.', shares: shares.slice(0, config.seal.threshold).map((s) => s.share) };
      writePrivateFile(devUnsealPath, JSON.stringify(dev, null, 2));
    }
    return { configPath, dataDir: config.dataDir, shares, tokens, threshold: config.seal.threshold, devUnsealPath, wroteConfig };
  } finally {
    await enclave.close();
  }
}
