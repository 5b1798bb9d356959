// The migration commands check the officers' shares on their main thread and hand them to the thread
// that opens the whole enclave; this thread opens only the control store and the seal (services/seal-
// state.ts), and loads nothing of the rest: the policy engine's WebAssembly, the log, the vault and the
// stores of the home sites would otherwise stay in its heap for the whole migration (docs/benchmarks.md,
// the migration's memory).
import type { EnclaveConfig } from '../core/config.ts';
import { EnclaveError } from '../core/errors.ts';
import { existsSync } from 'node:fs';
import { loadConfig } from '../services/config-loader.ts';
import type { SealService } from '../services/seal-service.ts';
import { openSealState, type SealState } from '../services/seal-state.ts';
import { checkStorageUrls } from '../storage/open-store.ts';

/**
 * Opens what `open` opens of an initialized enclave (the whole of it, or its seal alone); refuses one
 * with a storage URL that cannot be opened (naming the file and the key), one whose data directory does
 * not exist yet, or one whose root key was never split (closing what it opened).
 */
export async function openInitialized<T extends { readonly seal: SealService; close(): Promise<void> }>(configPath: string, config: EnclaveConfig, open: (config: EnclaveConfig) => Promise<T>): Promise<T> {
  checkStorageUrls(config, configPath);
  if (!existsSync(config.dataDir)) {
    throw new EnclaveError('not_initialized', `data directory ${config.dataDir} does not exist (run \`enclave init\` first)`);
  }
  const opened = await open(config);
  if (!opened.seal.status().initialized) {
    await opened.close();
    throw new EnclaveError('not_initialized', `${configPath} has no root key yet (run \`enclave init\` first)`);
  }
  return opened;
}

/** Opens an initialized enclave's control store and seal; refuses what `openLocalEnclave` refuses. */
export function openLocalSeal(configPath: string, config = loadConfig(configPath)): Promise<SealState> {
  return openInitialized(configPath, config, openSealState);
}

/** Runs `fn` with the enclave's seal open, and closes it. */
export async function withLocalSeal<T>(configPath: string, fn: (local: SealState) => Promise<T>): Promise<T> {
  const local = await openLocalSeal(configPath);
  try {
    return await fn(local);
  } finally {
    await local.close();
  }
}
