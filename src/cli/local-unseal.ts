// Commands that work on the stores directly and need protected data (migrate run, verify, purge) unseal
// their own copy of the enclave: with --dev-unseal in development, otherwise with the officers' shares,
// typed without echo on a terminal or piped one per line.
import { EnclaveError } from '../core/errors.ts';
import type { Enclave } from '../services/enclave.ts';
import { devShares } from './dev-unseal.ts';
import { usageError } from './fail.ts';
import type { Io } from './io.ts';
import type { Output } from './output.ts';
import { readHidden, readStdin } from './prompt.ts';

/**
 * The officers' shares for a migration thread, which unseals its own copy of the enclave with them (and
 * logs that unseal). Here they are only checked against the root key: with --dev-unseal in development,
 * otherwise typed without echo on a terminal or piped one per line. None when the enclave is unsealed.
 */
export async function unsealLocally(io: Io, enclave: Enclave, out: Output, dev: boolean): Promise<string[]> {
  if (dev) {
    const shares = devShares(enclave, out);
    for (const share of shares) await enclave.seal.check(share);
    return shares;
  }
  const status = enclave.seal.status();
  const given: string[] = [];
  if (!status.sealed) return given;
  if (io.stdin.isTTY === true) {
    out.note(`The enclave is sealed: ${status.threshold} officers enter their unseal shares here (input is hidden).`);
    for (let complete = false; !complete; ) {
      const share = (await readHidden(io, `Unseal share ${given.length + 1} of ${status.threshold}: `)).trim();
      complete = await enclave.seal.check(share);
      given.push(share);
    }
    return given;
  }
  const shares = (await readStdin(io)).split(/\s+/).filter((s) => s !== '');
  if (shares.length === 0) throw usageError('the enclave is sealed: pipe the officers\' unseal shares on stdin, one per line (or --dev-unseal in development)');
  let complete = false;
  for (const share of shares) {
    complete = await enclave.seal.check(share);
    given.push(share);
  }
  if (!complete) throw new EnclaveError('sealed', `${enclave.seal.status().progress} of the ${status.threshold} shares needed were given on stdin; the enclave stays sealed`);
  return given;
}
