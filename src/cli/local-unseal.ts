// Commands that work on the stores directly and need protected data (migrate run, verify, purge) unseal
// their own copy of the enclave: with --dev-unseal in development, otherwise with the officers' shares,
// typed without echo on a terminal or piped one per line.
import { EnclaveError } from '../core/errors.ts';
import type { SealState } from '../services/seal-state.ts';
import { configurationLine } from './configuration-note.ts';
import { devShares } from './dev-unseal.ts';
import { usageError } from './fail.ts';
import type { Io } from './io.ts';
import type { Output } from './output.ts';
import { readHidden, readStdin } from './prompt.ts';

/**
 * The officers' shares for a migration, which unseals its own copy of the enclave with them (and
 * logs that unseal). Here they are only checked against the root key: with --dev-unseal in development,
 * otherwise typed without echo on a terminal or piped one per line. None when the enclave is unsealed.
 */
export async function unsealLocally(io: Io, enclave: Pick<SealState, 'config' | 'seal'>, out: Output, dev: boolean, intro = 'The enclave is sealed: {k} officers enter their unseal shares here (input is hidden).'): Promise<string[]> {
  if (dev) return completeSet(enclave, devShares(enclave, out), 'the development file');
  const status = enclave.seal.status();
  const given: string[] = [];
  if (!status.sealed) return given;
  const changed = configurationLine(status.configuration_changed);
  if (changed !== undefined) out.note(`${changed}.`);
  if (io.stdin.isTTY === true) {
    out.note(intro.replace('{k}', String(status.threshold)));
    for (let complete = false; !complete; ) {
      const share = (await readHidden(io, `Unseal share ${given.length + 1} of ${status.threshold}: `)).trim();
      complete = await enclave.seal.check(share);
      given.push(share);
    }
    return given;
  }
  const shares = (await readStdin(io)).split(/\s+/).filter((s) => s !== '');
  if (shares.length === 0) throw usageError('the enclave is sealed: pipe the officers\' unseal shares on stdin, one per line (or --dev-unseal in development)');
  return completeSet(enclave, shares, 'stdin');
}

/** The first shares that make a complete set (more may be given: the rest are not used), checked. */
async function completeSet(enclave: Pick<SealState, 'seal'>, shares: readonly string[], from: string): Promise<string[]> {
  const used: string[] = [];
  for (const share of shares) {
    used.push(share);
    if (await enclave.seal.check(share)) return used;
  }
  const { progress, threshold } = enclave.seal.status();
  throw new EnclaveError('sealed', `${progress} of the ${threshold} shares needed were given on ${from}; the enclave stays sealed`);
}
