// The root key under an unseal key (seal record version 2): the officers' shares are shares of the unseal
// key, and the seal record keeps the root key sealed by it. A rekey then splits a new unseal key and
// seals the same root key again, so the previous shares open nothing the control store still holds
// (as Vault's unseal key and keyring). AES-256-GCM with a label of its own as associated data.
import { EnclaveError } from '../core/errors.ts';
import { aeadKey, open, seal } from './aead.ts';

const AAD = Buffer.from('enclave/seal/root-key/v2');

/** The root key sealed by the unseal key, as the seal record stores it (base64url). */
export function sealRoot(unsealKey: Uint8Array, root: Uint8Array): string {
  return Buffer.from(seal(aeadKey(unsealKey), root, AAD)).toString('base64url');
}

/** The root key from the seal record's `sealRoot` text; unseal_failed when the unseal key is not the one that sealed it. */
export function openRoot(unsealKey: Uint8Array, sealed: string): Buffer {
  try {
    return open(aeadKey(unsealKey), Buffer.from(sealed, 'base64url'), AAD);
  } catch (cause) {
    throw new EnclaveError('unseal_failed', 'the entered shares do not open this enclave\'s root key; start again', { cause });
  }
}
