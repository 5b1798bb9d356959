// `serve` opens the enclave's stores directly, from the configuration file; every other command that
// changes something goes through the API of the running server.
import { existsSync } from 'node:fs';
import type { EnclaveConfig } from '../core/config.ts';
import { EnclaveError } from '../core/errors.ts';
import { loadConfig } from '../services/config-loader.ts';
import { openEnclave, type Enclave, type OpenOptions } from '../services/enclave.ts';
import type { SealService } from '../services/seal-service.ts';

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

/** Opens an initialized enclave; refuses one whose data directory or root key does not exist yet. */
export async function openLocalEnclave(configPath: string, options: OpenOptions = {}, config = loadConfig(configPath)): Promise<Enclave> {
  requireDataDir(config);
  const enclave = await openEnclave(config, options);
  const refused = lacksRootKey(enclave.seal, configPath);
  if (refused) {
    await enclave.close();
    throw refused;
  }
  return enclave;
}
