// Composition root: opens the control store, every home site's store and the transparency log's store,
// wires keyring, log, seal, tokens, the gatekeeper (Cedar policy engine, decision point, access requests,
// change proposals) and the vault. Adapters (HTTP, CLI) receive an Enclave and never open stores themselves.
import type { EnclaveConfig } from '../core/config.ts';
import type { DecisionPoint } from '../core/decision.ts';
import type { LogStore } from '../core/log-store.ts';
import { cosignatureVerifierFromKey } from '../core/tlog/cosignature.ts';
import type { Store } from '../core/store.ts';
import { openLogStore, openStore, refuseSharedStores } from '../storage/open-store.ts';
import { AccessService } from './access-service.ts';
import { CedarDecisionPoint } from './cedar-decision-point.ts';
import { ChangeService } from './change-service.ts';
import { GrantIndex } from './grant-index.ts';
import { Keyring } from './keyring.ts';
import { LogService } from './log-service.ts';
import { PolicyEngine } from './policy-engine.ts';
import { witnessCosigner } from './witness-client.ts';
import { SealService } from './seal-service.ts';
import { SHARED_STATE_REFRESH_MS, SharedStateRefresh } from './shared-state.ts';
import { SiteRouter } from './site-router.ts';
import { TokenCache } from './token-cache.ts';
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
  readonly vault: Vault;
  readonly log: LogService;
  /** Keeps the grants and the policy version in step with other instances (started by the server). */
  readonly shared: SharedStateRefresh;
  close(): Promise<void>;
}

export interface OpenOptions {
  readonly clock?: () => number;
  /** Replaces the Cedar decision point (tests of the layers around it). */
  readonly decisions?: DecisionPoint;
  /** Size of the decision cache (0 disables it). */
  readonly decisionCacheSize?: number;
  /** Opens stores from these URLs instead of the configured ones (tests). */
  readonly storeFactory?: (url: string, dataDir: string) => Store | Promise<Store>;
  /** Opens the log's store from its URL instead of log.storage (tests; a migration writes it inline). */
  readonly logStoreFactory?: (url: string, dataDir: string) => LogStore | Promise<LogStore>;
  /** Told when the log's integrator fails (it retries every interval). */
  readonly onLogError?: (err: unknown, what: string) => void;
  /** This instance's name among several serving one database (default: host name and process id). */
  readonly instance?: string;
  /** How often the grants and the policy version are re-read from the control store, and how long an authenticated token is trusted without re-reading it (default 1 s). */
  readonly sharedStateRefreshMs?: number;
  /** How many subjects' data keys and home sites are kept in memory (default 100,000 of each, about 20 MB). */
  readonly subjectCacheSize?: number;
  /** For `enclave rekey`: the configured seal section is the split the rekey makes, not checked against the current one. */
  readonly rekey?: boolean;
}

export async function openEnclave(config: EnclaveConfig, options: OpenOptions = {}): Promise<Enclave> {
  const open = options.storeFactory ?? openStore;
  refuseSharedStores(config);
  const opened: { close(): Promise<void> }[] = [];
  let started: LogService | undefined;
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
    const clock = options.clock ?? Date.now;
    const logStore = await (options.logStoreFactory ?? openLogStore)(config.log.storage, config.dataDir);
    opened.push(logStore);
    const witnesses = config.log.witnesses;
    const log = new LogService({
      store: logStore,
      origin: config.log.origin,
      ...(options.instance === undefined ? {} : { instance: options.instance }),
      checkpointIntervalMs: config.log.checkpointIntervalMs,
      maxBatch: config.log.maxBatch,
      maxQueue: config.log.maxQueue,
      commitTimeoutMs: config.log.commitTimeoutMs,
      ...(witnesses.length === 0
        ? {}
        : {
            cosign: witnessCosigner(witnesses, { onError: (err, w) => log.report(err, `cosigning by witness ${w.url}`) }),
            witnesses: witnesses.map((w) => cosignatureVerifierFromKey(w.vkey)),
            witnessQuorum: config.log.witnessQuorum,
          }),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.onLogError ? { onError: options.onLogError } : {}),
    });
    started = log;
    const keyring = new Keyring(options.subjectCacheSize);
    const seal = await SealService.open(control.meta, keyring, options.rekey === true ? null : config.seal, { log, holders: [log], configuration: config.digests });
    const policies = new PolicyEngine(config);
    const grants = new GrantIndex();
    const decisions = options.decisions ?? new CedarDecisionPoint({ config, engine: policies, grants, ...(options.decisionCacheSize === undefined ? {} : { cacheSize: options.decisionCacheSize }) });
    const router = new SiteRouter(config, sites, options.subjectCacheSize);
    const access = new AccessService({ config, store: control, decisions, grants, log, clock, subjects: router });
    const refreshMs = options.sharedStateRefreshMs ?? SHARED_STATE_REFRESH_MS;
    // A token revoked through another instance stops working here within one refresh interval.
    const tokenCache = new TokenCache({ ttlMs: refreshMs });
    const changes = new ChangeService({ config, store: control, decisions, engine: policies, log, clock, tokenCache });
    await changes.load();
    await access.load();
    const shared = new SharedStateRefresh({ access, changes, intervalMs: refreshMs });
    const vault = new Vault({ config, router, claims: control.subjectClaims, recordClaims: control.recordClaims, keyring, decisions, log, clock });
    const tokens = new TokenService(control.tokens, config, log, tokenCache);
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
      vault,
      log,
      shared,
      async close() {
        await shared.stop();
        keyring.drop();
        // The log first: it writes what is queued before its store closes.
        await log.close();
        await Promise.all(opened.map((s) => s.close()));
      },
    };
  } catch (err) {
    // A refusal after the log started (policies that no longer validate, say) must not leave it running.
    await started?.close();
    await Promise.all(opened.map((s) => s.close()));
    throw err;
  }
}
