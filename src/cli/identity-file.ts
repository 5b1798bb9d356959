// The officer's age identity file (`--identity`): read no further than a key file can be, and the
// encrypted packet from standard input, opened here so that only the share leaves this machine.
import type { OfficerPacket } from '../crypto/officer-packet.ts';
import { usageError } from './fail.ts';
import type { Io } from './io.ts';
import { readBoundedText } from './output-files.ts';
import { readStdin } from './prompt.ts';

/** An age identity file holds a few keys and comments; anything larger is not one. */
const MAX_IDENTITY_BYTES = 64 * 1024;

/** The packet piped on stdin, opened with the identity file's keys. */
export async function openPipedPacket(io: Io, identityPath: string): Promise<OfficerPacket> {
  const identity = readBoundedText(identityPath, MAX_IDENTITY_BYTES, {
    unreadable: (code) => `--identity: cannot read ${identityPath}: ${code}`,
    tooLarge: `--identity: ${identityPath} is larger than an age identity file (${MAX_IDENTITY_BYTES / 1024} KiB)`,
  });
  if (io.stdin.isTTY === true) throw usageError('--identity: pipe the encrypted share on stdin (enclave … --identity key.txt < alice.share.age)');
  const { openPacket } = await import('../crypto/officer-packet.ts');
  return openPacket(await readStdin(io), identity);
}
