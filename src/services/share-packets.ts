// Shares (and init's bootstrap tokens) for the officers named in seal.recipients: each officer's sealed to
// their age public key (crypto/officer-packet.ts), so whoever runs init or rekey hands them on unread.
import type { EnclaveConfig } from '../core/config.ts';
import { EnclaveError } from '../core/errors.ts';
import { checkRecipient, sealPacket, type OfficerPacket } from '../crypto/officer-packet.ts';

export interface EncryptedPacket {
  readonly officer: string;
  /** ASCII-armored age file: `enclave unseal --identity`, `enclave officer open` or `age -d` opens it. */
  readonly encrypted: string;
}

/**
 * Refuses, before any key is made, a recipient the age library does not accept, and one key given to two
 * officers: whoever holds it would open both shares, so fewer people than the threshold could unseal
 * (invariant 6). invalid_config naming the officers.
 */
export function checkRecipients(seal: EnclaveConfig['seal']): void {
  const officerOf = new Map<string, string>();
  for (const [officer, recipient] of Object.entries(seal.recipients ?? {})) {
    try {
      checkRecipient(recipient);
    } catch (cause) {
      throw new EnclaveError('invalid_config', `seal.recipients.${officer}: not an age public key (${cause instanceof Error ? cause.message : String(cause)})`, { cause });
    }
    const other = officerOf.get(recipient);
    if (other !== undefined) {
      throw new EnclaveError('invalid_config', `seal.recipients: ${other} and ${officer} have the same age public key, so whoever holds its secret key would open both shares; each officer needs a key of their own`);
    }
    officerOf.set(recipient, officer);
  }
}

/** Each officer's packet sealed to their recipient; undefined when seal.recipients is not set (shares are shown in clear). */
export async function encryptedPackets(seal: EnclaveConfig['seal'], packets: readonly OfficerPacket[]): Promise<EncryptedPacket[] | undefined> {
  const recipients = seal.recipients;
  if (recipients === undefined) return undefined;
  return Promise.all(
    packets.map(async (p) => {
      const recipient = recipients[p.officer];
      // config.ts makes every officer have one.
      if (recipient === undefined) throw new EnclaveError('invalid_config', `seal.recipients: no age public key for officer ${p.officer}`);
      return { officer: p.officer, encrypted: await sealPacket(recipient, p) };
    }),
  );
}
