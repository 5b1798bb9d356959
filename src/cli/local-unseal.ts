// Commands that work on the stores directly and need protected data (migrate run, verify, purge) unseal
// their own copy of the enclave: with --dev-unseal in development, otherwise with the officers' shares,
// typed without echo on a terminal or piped one per line.
import { EnclaveError } from '../core/errors.ts';
import type { Enclave } from '../services/enclave.ts';
import { readDevShares } from '../services/init-service.ts';
import { devUnseal } from './dev-unseal.ts';
import { usageError } from './fail.ts';
import type { Io } from './io.ts';
import type { Output } from './output.ts';
import { readHidden, readStdin } from './prompt.ts';

/** Unseals `enclave` and returns the shares that did it (a migration thread unseals its own copy with them). */
export async function unsealLocally(io: Io, enclave: Enclave, out: Output, dev: boolean): Promise<string[]> {
  if (dev) {
    await devUnseal(enclave, out);
    return readDevShares(enclave.config.dataDir) ?? [];
  }
  let status = enclave.seal.status();
  const given: string[] = [];
  if (!status.sealed) return given;
  if (io.stdin.isTTY === true) {
    out.note(`The enclave is sealed: ${status.threshold} officers enter their unseal shares here (input is hidden).`);
    while (status.sealed) {
      const share = (await readHidden(io, `Unseal share ${status.progress + 1} of ${status.threshold}: `)).trim();
      status = await enclave.seal.submit(share);
      given.push(share);
    }
    return given;
  }
  const shares = (await readStdin(io)).split(/\s+/).filter((s) => s !== '');
  if (shares.length === 0) throw usageError('the enclave is sealed: pipe the officers\' unseal shares on stdin, one per line (or --dev-unseal in development)');
  for (const share of shares) {
    status = await enclave.seal.submit(share);
    given.push(share);
  }
  if (status.sealed) throw new EnclaveError('sealed', `${status.progress} of the ${status.threshold} shares needed were given on stdin; the enclave stays sealed`);
  return given;
}
