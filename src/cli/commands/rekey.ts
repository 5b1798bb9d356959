// `enclave rekey`: k officers enter their current shares here, and every officer of the configured seal
// section gets a new one (Vault's `operator rekey`). The root key and the data stay; servers keep running.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { CliError } from '../fail.ts';
import { configPathOf, examples } from '../options.ts';
import { describePackets, describeShares } from '../officer-packets.ts';
import { displayPath, Output } from '../output.ts';

interface RekeyOptions {
  readonly devUnseal?: boolean;
  readonly json?: boolean;
}

const show = (split: { readonly threshold: number; readonly officers: readonly string[] }) => `${split.threshold} of ${split.officers.join(', ')}`;

export function registerRekey(program: Command, { io }: CliContext): void {
  program
    .command('rekey')
    .summary("replace the officers' unseal shares (an officer leaves or joins, a share was exposed)")
    .description(
      "Replaces every unseal share: the threshold of officers of the current split enter their current shares here (prompted without echo on a terminal, or piped one per line), and each officer of the configuration's seal section gets a new share, printed once. Edit seal.officers and seal.threshold first to change who holds shares; leave them as they are to replace the shares alone. The root key, the data and the transparency log's keys do not change, and running servers need no restart (a sealed one asks for the new shares from now on); restart them with the edited configuration when convenient. The previous shares stop unsealing once the new ones are printed and the rekey is logged (key.rekeyed); a rekey stopped before then leaves the previous shares in force. Works on the stores directly, as `serve` does: run it where the configuration's stores can be reached.",
    )
    .option('--dev-unseal', 'take the current shares from the development file written by `init --dev` (and write the new ones there)')
    .option('--json', 'print the new shares as JSON')
    .addHelpText(
      'after',
      examples(
        'enclave rekey --config ./prod/enclave.yaml      # after editing seal.officers: prompts for the current shares',
        'cat alice.share bob.share | enclave rekey --json > new-shares.json',
      ),
    )
    .action(async (opts: RekeyOptions, cmd: Command) => {
      const out = new Output(io, { json: opts.json === true });
      const configPath = configPathOf(cmd);
      const { loadConfig } = await import('../../services/config-loader.ts');
      const { openLocalEnclave } = await import('../local-enclave.ts');
      const { unsealLocally } = await import('../local-unseal.ts');
      const { DEV_UNSEAL_FILE, writeDevShares } = await import('../../services/dev-shares.ts');
      const { checkRecipients, encryptedPackets } = await import('../../services/share-packets.ts');
      const config = loadConfig(configPath);
      const target = config.seal;
      // Before the current shares are asked for: a public key age refuses fails the rekey before it starts.
      checkRecipients(target);
      const enclave = await openLocalEnclave(configPath, { rekey: true }, config);
      try {
        const current = enclave.seal.split();
        // openLocalEnclave refuses an enclave whose init did not complete; checked for the type.
        if (current === undefined) throw new CliError('not_initialized', `${displayPath(configPath)} has no root key yet (run \`enclave init\` first)`);
        out.note(`Rekey: the shares of ${show(current)} are replaced by new shares for ${show(target)} (seal section of ${displayPath(configPath)}).`);
        const given = await unsealLocally(io, enclave, out, opts.devUnseal === true, `${current.threshold} of ${current.officers.join(', ')} enter their current unseal shares here (input is hidden).`);
        const result = await enclave.seal.rekey(given, target, async (shares) => {
          const packets = await encryptedPackets(target, shares);
          const heading = `New unseal shares: any ${target.threshold} of these ${shares.length} unseal the enclave (they take effect once the rekey is logged, below)`;
          out.result({ threshold: target.threshold, ...(packets === undefined ? { shares } : { packets }), previous: current }, () =>
            packets === undefined ? describeShares(shares, `${heading}.`) : describePackets(packets, `${heading}; shown once and stored nowhere`),
          );
        });
        out.note(`Rekeyed (logged as key.rekeyed): the shares above unseal the enclave from now on, and the previous ${current.officers.length} no longer do. The root key and the data are unchanged.`);
        if (result.previousWereRootShares) {
          out.warn(
            `This enclave was initialized before rekeys existed: its previous shares were shares of the root key itself. Enclave refuses them from now on, but ${current.threshold} of them still rebuild the root key outside it; destroy them.`,
          );
        }
        const devFile = join(config.dataDir, DEV_UNSEAL_FILE);
        if (!existsSync(devFile)) return;
        if (target.recipients !== undefined) {
          // Its shares are void now, and the new ones are each officer's alone (seal.recipients): none is written in clear.
          rmSync(devFile, { force: true });
          out.warn(`removed ${displayPath(devFile)}: its shares no longer unseal, and with seal.recipients no share is written in clear; \`enclave serve --dev-unseal\` no longer works for this enclave`);
        } else {
          writeDevShares(devFile, result.shares.slice(0, result.threshold).map((s) => s.share));
          out.warn(`DEVELOPMENT MODE: wrote the new shares to ${displayPath(devFile)}, from which \`enclave serve --dev-unseal\` unseals without the officers; never use in production`);
        }
      } finally {
        await enclave.close();
      }
    });
}
