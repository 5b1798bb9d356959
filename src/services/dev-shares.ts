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
