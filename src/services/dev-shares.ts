// The development auto-unseal file (`enclave init --dev`): enough unseal shares to unseal without the
// officers, for the demo and tests only. Apart from init-service so that reading it loads nothing else.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnclaveError } from '../core/errors.ts';

export const DEV_UNSEAL_FILE = 'dev-unseal.json';

/** Reads the development auto-unseal file; undefined if there is none. */
export function readDevShares(dataDir: string): string[] | undefined {
  const path = join(dataDir, DEV_UNSEAL_FILE);
  if (!existsSync(path)) return undefined;
  const doc = JSON.parse(readFileSync(path, 'utf8')) as { shares?: unknown };
  if (!Array.isArray(doc.shares) || !doc.shares.every((s) => typeof s === 'string')) {
    throw new EnclaveError('invalid_config', `${path} is not a development unseal file`);
  }
  return doc.shares;
}
