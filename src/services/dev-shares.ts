// The development auto-unseal file (`enclave init --dev`): enough unseal shares to unseal without the
// officers, for the demo and tests only. Apart from init-service so that reading it loads little else.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnclaveError } from '../core/errors.ts';
import { writePrivateFile } from '../storage/private-files.ts';

export const DEV_UNSEAL_FILE = 'dev-unseal.json';

/** Reads the development auto-unseal file; undefined if there is none. */
export function readDevShares(dataDir: string): string[] | undefined {
  const path = join(dataDir, DEV_UNSEAL_FILE);
  if (!existsSync(path)) return undefined;
  const notOne = () => new EnclaveError('invalid_config', `${path} is not a development unseal file`);
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    // Not JSON (its text is not quoted: it may hold shares).
    if (cause instanceof SyntaxError) throw notOne();
    throw cause;
  }
  const shares = typeof doc === 'object' && doc !== null ? (doc as { shares?: unknown }).shares : undefined;
  if (!Array.isArray(shares) || !shares.every((s) => typeof s === 'string')) throw notOne();
  return shares;
}

/** Writes the development auto-unseal file at `path` (0600): a threshold of the shares, which unseal without the officers. */
export function writeDevShares(path: string, shares: readonly string[]): void {
  writePrivateFile(path, JSON.stringify({ warning: 'DEVELOPMENT ONLY: these shares unseal this enclave without its officers.', shares }, null, 2));
}
