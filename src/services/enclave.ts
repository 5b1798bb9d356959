// Composition root: opens the control store and every home site's store, wires keyring, seal, tokens,
// decision point and vault. Adapters (HTTP, CLI) receive an Enclave and never open stores themselves.
import type { EnclaveConfig } from '../core/config.ts';
import type { DecisionPoint } from '../core/decision.ts';
import { createRoleDecisionPoint } from '../core/role-decision-point.ts';
import type { Store } from '../core/store.ts';
import { openStore } from '../storage/open-store.ts';
import { Keyring } from './keyring.ts';
import { SealService } from './seal-service.ts';
import { SiteRouter } from './site-router.ts';
import { TokenService } from './token-service.ts';
import { Vault } from './vault.ts';

export interface Enclave {
  readonly config: EnclaveConfig;
  readonly control: Store;
  readonly sites: ReadonlyMap<string, Store>;
  readonly router: SiteRouter;
  readonly keyring: Keyring;
  readonly seal: SealService;
  readonly tokens: TokenService;
  readonly decisions: DecisionPoint;
  readonly vault: Vault;
  close(): Promise<void>;
}

export interface OpenOptions {
  readonly clock?: () => number;
  readonly decisions?: DecisionPoint;
  /** Opens stores from these URLs instead of the configured ones (tests). */
  readonly storeFactory?: (url: string, dataDir: string) => Store | Promise<Store>;
}

export async function openEnclave(config: EnclaveConfig, options: OpenOptions = {}): Promise<Enclave> {
  const open = options.storeFactory ?? openStore;
  const opened: Store[] = [];
  try {
    const control = await open(config.controlStorage, config.dataDir);
    opened.push(control);
    const sites = new Map<string, Store>();
    for (const site of config.sites.values()) {
      if (site.role !== 'home') continue;
      const store = await open(site.storage, config.dataDir);
      opened.push(store);
      sites.set(site.id, store);
    }
    const keyring = new Keyring();
    const seal = new SealService(control.meta, keyring);
    await seal.load();
    const decisions = options.decisions ?? createRoleDecisionPoint(config);
    const router = new SiteRouter(config, sites);
    const vault = new Vault({ config, router, keyring, decisions, ...(options.clock ? { clock: options.clock } : {}) });
    const tokens = new TokenService(control.tokens, config);
    return {
      config,
      control,
      sites,
      router,
      keyring,
      seal,
      tokens,
      decisions,
      vault,
      async close() {
        keyring.drop();
        await Promise.all(opened.map((s) => s.close()));
      },
    };
  } catch (err) {
    await Promise.all(opened.map((s) => s.close()));
    throw err;
  }
}
