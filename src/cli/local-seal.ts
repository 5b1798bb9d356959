// The control store and the seal state of an enclave, without the rest. The migration commands only check
// the officers' shares on their main thread and hand them to the thread that opens the whole enclave;
// opening everything here too (policy engine, log, every home site) would keep a second copy of it in
// this thread's heap for the whole migration, some 80 MB that an idle thread never collects
// (docs/benchmarks.md, the migration's memory).
import type { EnclaveConfig } from '../core/config.ts';
import type { Store } from '../core/store.ts';
import { loadConfig } from '../services/config-loader.ts';
import { Keyring } from '../services/keyring.ts';
import { SealService } from '../services/seal-service.ts';
import { openStore, refuseSharedStores } from '../storage/open-store.ts';
import { lacksRootKey, requireDataDir } from './local-enclave.ts';

export interface LocalSeal {
  readonly config: EnclaveConfig;
  readonly control: Store;
  /** Sealed: its keyring is never loaded here (shares are checked, not used). */
  readonly seal: SealService;
  close(): Promise<void>;
}

/** Opens an initialized enclave's control store and seal; refuses what `openLocalEnclave` refuses. */
export async function openLocalSeal(configPath: string, config = loadConfig(configPath)): Promise<LocalSeal> {
  requireDataDir(config);
  refuseSharedStores(config);
  const control = await openStore(config.controlStorage, config.dataDir);
  try {
    const seal = new SealService(control.meta, new Keyring(0));
    await seal.load();
    seal.checkConfigured(config.seal);
    const refused = lacksRootKey(seal, configPath);
    if (refused) throw refused;
    return { config, control, seal, close: () => control.close() };
  } catch (err) {
    await control.close();
    throw err;
  }
}

/** Runs `fn` with the enclave's seal open, and closes it. */
export async function withLocalSeal<T>(configPath: string, fn: (local: LocalSeal) => Promise<T>): Promise<T> {
  const local = await openLocalSeal(configPath);
  try {
    return await fn(local);
  } finally {
    await local.close();
  }
}
