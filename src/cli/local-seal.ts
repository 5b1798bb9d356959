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

/** Refuses a configuration whose data directory does not exist yet. */
export function requireDataDir(config: EnclaveConfig): void {
  if (!existsSync(config.dataDir)) {
    throw new EnclaveError('not_initialized', `data directory ${config.dataDir} does not exist (run \`enclave init\` first)`);
  }
}

/** The refusal for an enclave whose root key was never split, if it was not (the caller closes what it opened). */
export function lacksRootKey(seal: SealService, configPath: string): EnclaveError | undefined {
  return seal.status().initialized ? undefined : new EnclaveError('not_initialized', `${configPath} has no root key yet (run \`enclave init\` first)`);
}

/** Opens an initialized enclave's control store and seal; refuses what `openLocalEnclave` refuses first. */
export async function openLocalSeal(configPath: string, config = loadConfig(configPath)): Promise<SealState> {
  requireDataDir(config);
  const local = await openSealState(config);
  const refused = lacksRootKey(local.seal, configPath);
  if (refused) {
    await local.close();
    throw refused;
  }
  return local;
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
