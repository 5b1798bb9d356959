// How init and rekey show the officers' encrypted packets (seal.recipients): one armored block each,
// named, for the person running the command to forward unread.
import type { EncryptedPacket } from '../services/share-packets.ts';

export function describePackets(packets: readonly EncryptedPacket[], what: string): string {
  return [
    `${what}, each encrypted to its officer's age key (seal.recipients): forward each block to its officer, who alone can open it (\`enclave unseal --identity <key file>\` reads the share from it; \`enclave officer open --identity <key file>\` shows what it holds).`,
    ...packets.flatMap((p) => ['', `${p.officer}:`, p.encrypted.trimEnd()]),
  ].join('\n');
}
