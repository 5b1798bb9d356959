// What init and rekey hand one officer (their unseal share, and init's bootstrap token), encrypted to the
// officer's age public key (age-encryption.org/v1, with the `age-encryption` library, the reference
// TypeScript implementation): the person running init or rekey forwards it without being able to read
// it, so no one sees k shares (invariant 6). ASCII-armored; the `age` tool opens it too.
import { armor, Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { EnclaveError } from '../core/errors.ts';

export interface OfficerPacket {
  readonly officer: string;
  readonly share: string;
  /** The bootstrap token (init only). */
  readonly token?: string;
}

const KIND = 'enclave-officer-packet-v1';
const BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';

/** Throws a plain Error naming the problem when `recipient` is not an age public key the library accepts. */
export function checkRecipient(recipient: string): void {
  new Encrypter().addRecipient(recipient);
}

/** The packet encrypted to `recipient`, armored. */
export async function sealPacket(recipient: string, packet: OfficerPacket): Promise<string> {
  const e = new Encrypter();
  e.addRecipient(recipient);
  const body = JSON.stringify({ kind: KIND, ...packet });
  return armor.encode(await e.encrypt(body));
}

/**
 * The packet in `text` (armored), opened with the identities of `identityFile` (age's format: one
 * AGE-SECRET-KEY-… per line, # comments). invalid_argument for an identity file that holds none;
 * invalid_share for anything else that is not a packet this identity opens.
 */
export async function openPacket(text: string, identityFile: string): Promise<OfficerPacket> {
  const identities = identityFile
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (identities.length === 0 || !identities.every((l) => l.startsWith('AGE-SECRET-KEY-'))) {
    throw new EnclaveError('invalid_argument', 'the identity file holds no age secret key (AGE-SECRET-KEY-…, one per line)');
  }
  const start = text.indexOf(BEGIN);
  if (start < 0) throw new EnclaveError('invalid_share', `expected an encrypted share (${BEGIN} …), as init or rekey printed it for you`);
  const d = new Decrypter();
  let plain: string;
  try {
    for (const id of identities) d.addIdentity(id);
    plain = await d.decrypt(armor.decode(text.slice(start).trim()), 'text');
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new EnclaveError('invalid_share', `the encrypted share does not open with this identity (${why}): it was made for another officer's key, or altered`, { cause });
  }
  return packetOf(plain);
}

function packetOf(plain: string): OfficerPacket {
  let value: unknown;
  try {
    value = JSON.parse(plain);
  } catch (cause) {
    throw new EnclaveError('invalid_share', 'the encrypted file opened, but holds no Enclave share', { cause });
  }
  const v = value as Partial<OfficerPacket> & { kind?: unknown };
  if (v === null || typeof v !== 'object' || v.kind !== KIND || typeof v.officer !== 'string' || typeof v.share !== 'string' || (v.token !== undefined && typeof v.token !== 'string')) {
    throw new EnclaveError('invalid_share', 'the encrypted file opened, but holds no Enclave share');
  }
  return { officer: v.officer, share: v.share, ...(v.token === undefined ? {} : { token: v.token }) };
}

/** A new X25519 identity (age's AGE-SECRET-KEY-1…) and its public key (age1…), as age-keygen makes them. */
export async function newOfficerKey(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}
