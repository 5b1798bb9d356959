// `serve` opens the enclave's stores directly, from the configuration file; every other command that
// changes something goes through the API of the running server.
import { loadConfig } from '../services/config-loader.ts';
import { openEnclave, type Enclave, type OpenOptions } from '../services/enclave.ts';
import { openInitialized } from './local-seal.ts';

/** Opens an initialized enclave; refuses one whose data directory or root key does not exist yet. */
export function openLocalEnclave(configPath: string, options: OpenOptions = {}, config = loadConfig(configPath)): Promise<Enclave> {
  return openInitialized(configPath, config, (c) => openEnclave(c, options));
}
