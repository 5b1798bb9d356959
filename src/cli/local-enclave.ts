// `serve` opens the enclave's stores directly, from the configuration file; every other command that
// changes something goes through the API of the running server.
import { existsSync } from 'node:fs';
import { EnclaveError } from '../core/errors.ts';
import { loadConfig } from '../services/config-loader.ts';
import { openEnclave, type Enclave, type OpenOptions } from '../services/enclave.ts';

/** Opens an initialized enclave; refuses one whose data directory or root key does not exist yet. */
export async function openLocalEnclave(configPath: string, options: OpenOptions = {}, config = loadConfig(configPath)): Promise<Enclave> {
  if (!existsSync(config.dataDir)) {
    throw new EnclaveError('not_initialized', `data directory ${config.dataDir} does not exist (run \`enclave init\` first)`);
  }
  const enclave = await openEnclave(config, options);
  if (!enclave.seal.status().initialized) {
    await enclave.close();
    throw new EnclaveError('not_initialized', `${configPath} has no root key yet (run \`enclave init\` first)`);
  }
  return enclave;
}
