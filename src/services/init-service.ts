// `enclave init`: a commented starter configuration, the data directory, the control store and the root
// key split among the configured officers. Development mode also writes a local auto-unseal file.
// A failed init removes what it created (the configuration, the directories and stores it made), so the
// corrected command works; and what can fail for a user's reason is checked before the root key exists,
// since a key whose shares were never shown can never be unsealed.
import { existsSync, lstatSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { EnclaveConfig } from '../core/config.ts';
import { EnclaveError } from '../core/errors.ts';
import { pathProblem } from '../core/path-problem.ts';
import { makeDirectories, makePrivateDir, PathStepError, writePrivateFile } from '../storage/private-files.ts';
import { sqlitePathOf } from '../storage/open-store.ts';
import { loadConfig } from './config-loader.ts';
import { DEV_UNSEAL_FILE, writeDevShares } from './dev-shares.ts';
import { openEnclave, type Enclave } from './enclave.ts';
import type { OfficerShare } from './seal-service.ts';
import { checkRecipients, encryptedPackets, type EncryptedPacket } from './share-packets.ts';
import { starterConfig, type StarterOptions } from './starter-config.ts';
import { checkTokenRequest } from './token-service.ts';

export const CONFIG_FILE = 'enclave.yaml';

export interface BootstrapToken {
  readonly officer: string;
  readonly id: string;
  readonly secret: string;
}

export interface InitResult {
  readonly configPath: string;
  readonly dataDir: string;
  readonly shares: readonly OfficerShare[];
  /** One token per seal officer, with gatekeeper.bootstrap.role: the only tokens issued without a quorum. */
  readonly tokens: readonly BootstrapToken[];
  readonly threshold: number;
  readonly devUnsealPath: string | null;
  readonly wroteConfig: boolean;
  /** With seal.recipients: each officer's share and token, encrypted to them; shown instead of `shares` and `tokens`. */
  readonly packets?: readonly EncryptedPacket[];
}

export async function initEnclave(dir: string, options: StarterOptions & { dev?: boolean } = {}): Promise<InitResult> {
  const created: string[] = [];
  try {
    return await init(dir, options, created);
  } catch (err) {
    // Newest first; the enclave is closed by now (SQLite files can be removed). What cannot be removed
    // is said after why init failed, in the same line: that reason stays the one reported.
    const left: string[] = [];
    for (const path of created.reverse()) {
      try {
        rmSync(path, { recursive: true, force: true });
      } catch (cleanup) {
        left.push(`${path} (${pathProblem(cleanup) ?? (cleanup as NodeJS.ErrnoException).code ?? String(cleanup)})`);
      }
    }
    if (left.length > 0 && err instanceof Error) err.message += `; and init could not remove what it had created: ${left.join(', ')}`;
    throw err;
  }
}

async function init(dir: string, options: StarterOptions & { dev?: boolean }, created: string[]): Promise<InitResult> {
  const configPath = join(dir, CONFIG_FILE);
  noteNew(created, dir);
  // One directory at a time (never hangs, under /proc neither), with mkdir's default mode less the umask.
  onPath(`cannot create the directory ${dir}`, () => makeDirectories(dir, 0o777));
  const wroteConfig = !existsSync(configPath);
  if (wroteConfig) {
    // wx: only a file this init created is ever removed again.
    onPath(`cannot write ${configPath}`, () => writeFileSync(configPath, starterConfig(options), { mode: 0o640, flag: 'wx' }));
    created.push(configPath);
  }
  const config = loadConfig(configPath);
  // Made private before the stores are created in it, also when it existed (an existing directory keeps
  // its mode through mkdir): 0700, or init refuses with data_dir_insecure.
  noteNew(created, config.dataDir);
  // Named by --dir, or by data_dir in a configuration that was there already.
  const dataDirCode = wroteConfig ? 'invalid_argument' : 'invalid_config';
  onPath(`cannot create the data directory ${config.dataDir}`, () => makePrivateDir(config.dataDir), dataDirCode);
  for (const path of storeFiles(config)) noteNew(created, path);
  const enclave = await openEnclave(config);
  try {
    if (enclave.seal.status().initialized) {
      throw new EnclaveError('already_initialized', `${dir} is already initialized (its root key exists); nothing was changed`);
    }
    const { org, role } = config.gatekeeper.bootstrap;
    const label = 'bootstrap (enclave init)';
    for (const officer of config.seal.officers) checkTokenRequest(config, { principal: officer, org, role, label });
    checkRecipients(config.seal);
    if (options.dev === true && config.seal.recipients !== undefined) {
      // The development file holds a threshold of shares in clear, readable by whoever runs init: the very
      // thing seal.recipients is there to prevent.
      throw new EnclaveError('invalid_argument', '--dev writes enough unseal shares to unseal the enclave to a file in clear, which seal.recipients is there to prevent: use one or the other');
    }
    await refuseChangedPrincipals(enclave, config);
    const devUnsealPath = options.dev ? join(config.dataDir, DEV_UNSEAL_FILE) : null;
    if (devUnsealPath !== null) {
      // Written empty now, so that a path that cannot take it is refused while there is no key yet.
      // An existing one is stale: this enclave has no root key its shares could belong to.
      noteNew(created, devUnsealPath);
      onPath(`cannot write the development unseal file ${devUnsealPath}`, () => writePrivateFile(devUnsealPath, ''));
    } else {
      // One left by an init --dev that did not complete holds shares of the key replaced here: serve would
      // warn that it unseals this enclave.
      const stale = join(config.dataDir, DEV_UNSEAL_FILE);
      onPath(`cannot remove the stale development unseal file ${stale}`, () => rmSync(stale, { force: true }));
    }
    const shares = await enclave.seal.initialize(config.seal.officers, config.seal.threshold, { pending: true });
    // Bootstrap: with no token yet there is no quorum to approve one, so each officer gets a first token
    // here, next to their unseal share. Every later token is a proposal that k others approve.
    const tokens: BootstrapToken[] = [];
    for (const officer of config.seal.officers) {
      const t = await enclave.tokens.issue({ principal: officer, org, role, label });
      tokens.push({ officer, id: t.id, secret: t.secret });
    }
    if (devUnsealPath !== null) writeDevShares(devUnsealPath, shares.slice(0, config.seal.threshold).map((s) => s.share));
    // Each officer's share and bootstrap token travel together, readable by that officer alone.
    const tokenOf = new Map(tokens.map((t) => [t.officer, t.secret]));
    const packets = await encryptedPackets(
      config.seal,
      shares.map((s) => {
        const token = tokenOf.get(s.officer);
        return { officer: s.officer, share: s.share, ...(token === undefined ? {} : { token }) };
      }),
    );
    // Last: until now a failed or killed init leaves a root key no one holds shares of, which a new init
    // replaces (the PostgreSQL stores keep what was written; SQLite files are removed above).
    try {
      await enclave.seal.completeInitialization();
    } catch (err) {
      // Another init replaced this one's key: what this one created (directories, configuration, store
      // files) is that init's now, and stays.
      if (err instanceof EnclaveError && err.code === 'already_initialized') created.length = 0;
      throw err;
    }
    return { configPath, dataDir: config.dataDir, shares, tokens, threshold: config.seal.threshold, devUnsealPath, wroteConfig, ...(packets === undefined ? {} : { packets }) };
  } finally {
    await enclave.close();
  }
}

/**
 * Refuses, before the root key is replaced, officers whom an init that did not complete issued a token as
 * another org or role than gatekeeper.bootstrap now says: a principal's org and role never change, so
 * issuing theirs would fail after the key was replaced, on every init.
 */
async function refuseChangedPrincipals(enclave: Enclave, config: EnclaveConfig): Promise<void> {
  const { org, role } = config.gatekeeper.bootstrap;
  const officers = new Set(config.seal.officers);
  for (const { principal: p } of await enclave.control.tokens.list()) {
    if (!officers.has(p.id) || (p.org === org && p.role === role)) continue;
    throw new EnclaveError(
      'invalid_config',
      `principal "${p.id}" was issued a token as ${p.org}/${p.role} by an init that did not complete, and a principal's org and role cannot change: set gatekeeper.bootstrap back to ${p.org}/${p.role}; nothing was changed`,
    );
  }
}

/** Notes the outermost missing part of `path`, which creating it would create. */
function noteNew(created: string[], path: string): void {
  if (present(path)) return;
  let outermost = path;
  for (let up = dirname(outermost); up !== outermost && !present(up); up = dirname(up)) outermost = up;
  created.push(outermost);
}

/** Whether anything is at `path`, a dangling symbolic link too (existsSync says no to that one). */
function present(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The SQLite files of the stores init opens, with the journal files SQLite adds next to them: removed if
 * this init created them and then failed, the root key (in the control store) with them.
 */
function storeFiles(config: EnclaveConfig): string[] {
  const homes = [...config.sites.values()].filter((s) => s.role === 'home');
  const urls = [config.controlStorage, config.log.storage, ...homes.map((s) => s.storage)];
  return urls
    .map((url) => sqlitePathOf(url, config.dataDir))
    .filter((p): p is string => p !== undefined && p !== '' && p !== ':memory:')
    .flatMap((p) => [p, `${p}-wal`, `${p}-shm`, `${p}-journal`]);
}

/**
 * Runs a step on a path the user chose; a path that cannot be used is their mistake, said in one line:
 * `what` and why, or a directory that cannot be created as makeDirectories says it (naming it).
 */
function onPath(what: string, step: () => void, code: 'invalid_argument' | 'invalid_config' = 'invalid_argument'): void {
  try {
    step();
  } catch (err) {
    if (err instanceof PathStepError) throw new EnclaveError(code, err.why, { cause: err.cause });
    const why = err instanceof EnclaveError ? undefined : pathProblem(err);
    if (why === undefined) throw err;
    throw new EnclaveError(code, `${what}: ${why}`, { cause: err });
  }
}
