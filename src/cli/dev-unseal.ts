// Development mode: unseal from the file `init --dev` writes, and say so loudly every time.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Enclave } from '../services/enclave.ts';
import { DEV_UNSEAL_FILE, readDevShares } from '../services/dev-shares.ts';
import { CliError } from './fail.ts';
import { displayPath, type Output } from './output.ts';

export function devModeWarning(file: string): string {
  return `DEVELOPMENT MODE: auto-unsealed from ${file}; never use in production`;
}

/** The shares of the development file, with the warning said. */
export function devShares(enclave: Pick<Enclave, 'config'>, out: Output): string[] {
  const file = join(enclave.config.dataDir, DEV_UNSEAL_FILE);
  const shares = readDevShares(enclave.config.dataDir);
  if (shares === undefined) {
    throw new CliError('invalid_argument', `--dev-unseal: there is no ${displayPath(file)} (only \`enclave init --dev\` writes one)`);
  }
  out.warn(devModeWarning(displayPath(file)));
  return shares;
}

/** Warns when the development file is there but not used: it unseals for whoever can read it. */
export function warnIfDevFileLeft(enclave: Enclave, out: Output): void {
  const file = join(enclave.config.dataDir, DEV_UNSEAL_FILE);
  if (!existsSync(file)) return;
  out.warn(`${displayPath(file)} holds enough unseal shares to unseal this enclave without its officers (written by \`init --dev\`); unless this enclave is for development only, delete it`);
}

export async function devUnseal(enclave: Enclave, out: Output): Promise<void> {
  for (const share of devShares(enclave, out)) await enclave.seal.submit(share);
}
