// An enclave's seal with its control store and nothing else (no log, no policy engine, no home sites):
// what a process needs to check unseal shares that it hands to another thread, which opens the whole
// enclave (enclave.ts) and unseals there. Opened with the same refusals as openEnclave's first steps.
import type { EnclaveConfig } from '../core/config.ts';
import type { Store } from '../core/store.ts';
import { openStore, refuseSharedStores } from '../storage/open-store.ts';
import { Keyring } from './keyring.ts';
import { SealService } from './seal-service.ts';

export interface SealState {
  readonly config: EnclaveConfig;
  readonly control: Store;
  /** Sealed for good: its keyring is never loaded (shares are checked, never used here). */
  readonly seal: SealService;
  close(): Promise<void>;
}

export async function openSealState(config: EnclaveConfig): Promise<SealState> {
  refuseSharedStores(config);
  const control = await openStore(config.controlStorage, config.dataDir);
  try {
    // No data keys are ever cached here: the smallest cache.
    // With the configuration's digests: the officers typing shares here see an edit (the thread's unseal logs it).
    const seal = await SealService.open(control.meta, new Keyring(1), config.seal, { configuration: config.digests });
    return { config, control, seal, close: () => control.close() };
  } catch (err) {
    await control.close();
    throw err;
  }
}
