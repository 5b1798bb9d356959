// How init and rekey show the officers' new shares: in clear, one line each; or, with seal.recipients,
// one armored block each, named, for the person running the command to forward unread.
import type { OfficerShare } from '../services/seal-service.ts';
import type { EncryptedPacket } from '../services/share-packets.ts';
import { columns } from './output.ts';

export function describeShares(shares: readonly OfficerShare[], heading: string): string {
  return [heading, 'THEY ARE SHOWN ONCE AND STORED NOWHERE: give each officer their own share now, over a safe channel.', columns(shares.map((s) => [s.officer, s.share]))].join('\n');
}

export function describePackets(packets: readonly EncryptedPacket[], what: string): string {
  return [
    `${what}, each encrypted to its officer's age key (seal.recipients): forward each block to its officer, who alone can open it (\`enclave unseal --identity <key file>\` reads the share from it; \`enclave officer open --identity <key file>\` shows what it holds).`,
    ...packets.flatMap((p) => ['', `${p.officer}:`, p.encrypted.trimEnd()]),
  ].join('\n');
}
