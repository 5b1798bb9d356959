// Composition root: opens the control store and every home site's store, wires keyring, seal, tokens,
// the gatekeeper (Cedar policy engine, decision point, access requests, change proposals) and the vault.
// Adapters (HTTP, CLI) receive an Enclave and never open stores themselves.
import type { EnclaveConfig } from '../core/config.ts';
import type { DecisionPoint } from '../core/decision.ts';
import type { EventLog } from '../core/event-log.ts';
import type { Store } from '../core/store.ts';
import { openStore } from '../storage/open-store.ts';
import { AccessService } from './access-service.ts';
import { CedarDecisionPoint } from './cedar-decision-point.ts';
import { ChangeService } from './change-service.ts';
import { GrantIndex } from './grant-index.ts';
import { Keyring } from './keyring.ts';
import { PendingEventLog } from './pending-event-log.ts';
import { PolicyEngine } from './policy-engine.ts';
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
  readonly policies: PolicyEngine;
  readonly grants: GrantIndex;
  readonly decisions: DecisionPoint;
  readonly access: AccessService;
  readonly changes: ChangeService;
  readonly log: EventLog;
  readonly vault: Vault;
  close(): Promise<void>;
}

export interface OpenOptions {
  readonly clock?: () => number;
  /** Replaces the Cedar decision point (tests of the layers around it). */
  readonly decisions?: DecisionPoint;
  /** Where lifecycle events go; until the transparency log lands, an in-memory stand-in. */
  readonly log?: EventLog;
  /** Size of the decision cache (0 disables it). */
  readonly decisionCacheSize?: number;
  /** Opens stores from these URLs instead of the configured ones (tests). */
  readonly storeFactory?: (url: string, dataDir: string) => Store;
}

export async function openEnclave(config: EnclaveConfig, options: OpenOptions = {}): Promise<Enclave> {
  const open = options.storeFactory ?? openStore;
  const opened: Store[] = [];
  try {
    const control = open(config.controlStorage, config.dataDir);
    opened.push(control);
    const sites = new Map<string, Store>();
    for (const site of config.sites.values()) {
      if (site.role !== 'home') continue;
      const store = open(site.storage, config.dataDir);
      opened.push(store);
      sites.set(site.id, store);
    }
    const clock = options.clock ?? Date.now;
    const keyring = new Keyring();
    const seal = new SealService(control.meta, keyring);
    await seal.load();
    const log = options.log ?? new PendingEventLog();
    const policies = new PolicyEngine(config);
    const grants = new GrantIndex();
    const decisions = options.decisions ?? new CedarDecisionPoint({ config, engine: policies, grants, ...(options.decisionCacheSize === undefined ? {} : { cacheSize: options.decisionCacheSize }) });
    const access = new AccessService({ config, store: control, decisions, grants, log, clock });
    const changes = new ChangeService({ config, store: control, decisions, engine: policies, log, clock });
    await changes.load();
    await access.load();
    const router = new SiteRouter(config, sites);
    const vault = new Vault({ config, router, keyring, decisions, clock });
    const tokens = new TokenService(control.tokens, config);
    return {
      config,
      control,
      sites,
      router,
      keyring,
      seal,
      tokens,
      policies,
      grants,
      decisions,
      access,
      changes,
      log,
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
