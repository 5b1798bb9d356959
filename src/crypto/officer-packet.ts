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
const END = '-----END AGE ENCRYPTED FILE-----';

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
 * AGE-SECRET-KEY-… per line, # comments). `text` may hold several blocks (all that init or rekey printed,
 * forwarded whole): the one this identity opens is used. invalid_argument for an identity file that holds
 * no usable key; invalid_share for anything else that is not a packet this identity opens.
 */
export async function openPacket(text: string, identityFile: string): Promise<OfficerPacket> {
  const d = new Decrypter();
  for (const id of await identitiesOf(identityFile)) d.addIdentity(id);
  const blocks = armoredBlocks(text);
  if (blocks.length === 0) throw new EnclaveError('invalid_share', `expected an encrypted share (${BEGIN} …), as init or rekey printed it for you`);
  let failure: unknown;
  for (const block of blocks) {
    let plain: string;
    try {
      plain = await d.decrypt(armor.decode(block), 'text');
    } catch (cause) {
      failure = cause;
      continue;
    }
    return packetOf(plain);
  }
  const why = failure instanceof Error ? failure.message : String(failure);
  const what = blocks.length === 1 ? 'the encrypted share does not' : `none of the ${blocks.length} encrypted shares given does`;
  throw new EnclaveError('invalid_share', `${what} open with this identity (${why}): it was made for another officer's key, or altered`, { cause: failure });
}

/** The keys of an age identity file, each checked: a file age would not use is the caller's mistake, said as such. */
async function identitiesOf(identityFile: string): Promise<string[]> {
  const lines = identityFile
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.some((l) => l === BEGIN || l.startsWith('age-encryption.org/'))) {
    throw new EnclaveError('invalid_argument', 'the identity file is itself encrypted (a passphrase-protected age key): decrypt it first, e.g. --identity <(age -d alice.key.age)');
  }
  if (lines.length === 0 || !lines.every((l) => l.startsWith('AGE-SECRET-KEY-'))) {
    throw new EnclaveError('invalid_argument', 'the identity file holds no age secret key (AGE-SECRET-KEY-…, one per line, as `enclave officer keygen` or age-keygen writes it; SSH keys and age plugins are not supported)');
  }
  for (const [i, id] of lines.entries()) {
    try {
      await identityToRecipient(id);
    } catch (cause) {
      throw new EnclaveError('invalid_argument', `the identity file's key ${i + 1} is not a valid age secret key (${cause instanceof Error ? cause.message : String(cause)})`, { cause });
    }
  }
  return lines;
}

/** Each armored block of `text`, from its BEGIN line to its END line (or the end of the text), lines trimmed. */
function armoredBlocks(text: string): string[] {
  const blocks: string[] = [];
  for (let from = text.indexOf(BEGIN); from >= 0; from = text.indexOf(BEGIN, from + BEGIN.length)) {
    const end = text.indexOf(END, from);
    const block = end < 0 ? text.slice(from) : text.slice(from, end + END.length);
    // Indented by a mail or chat client: age's armor takes the lines as they were printed (a "> " quote is not undone).
    blocks.push(
      block
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l !== '')
        .join('\n'),
    );
  }
  return blocks;
}

function packetOf(plain: string): OfficerPacket {
  const noShare = (cause?: unknown) => new EnclaveError('invalid_share', 'the encrypted file opened, but holds no Enclave share', cause === undefined ? {} : { cause });
  let value: unknown;
  try {
    value = JSON.parse(plain);
  } catch (cause) {
    throw noShare(cause);
  }
  const v = value as Partial<OfficerPacket> & { kind?: unknown };
  if (v === null || typeof v !== 'object' || v.kind !== KIND || typeof v.officer !== 'string' || typeof v.share !== 'string' || (v.token !== undefined && typeof v.token !== 'string')) throw noShare();
  return { officer: v.officer, share: v.share, ...(v.token === undefined ? {} : { token: v.token }) };
}

/** A new X25519 identity (age's AGE-SECRET-KEY-1…) and its public key (age1…), as age-keygen makes them. */
export async function newOfficerKey(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}
