// `enclave officer`: an officer's own age key pair (keygen), and what init or rekey encrypted to it (open).
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { usageError } from '../fail.ts';
import { openPipedPacket } from '../identity-file.ts';
import { examples } from '../options.ts';
import { pathError } from '../output-files.ts';
import { displayPath, Output } from '../output.ts';

export function registerOfficer(program: Command, { io }: CliContext): void {
  const officer = program
    .command('officer')
    .summary("an officer's age key: receive unseal shares that only you can read")
    .description(
      "With seal.recipients, `enclave init` and `enclave rekey` encrypt each officer's unseal share (and init's bootstrap token) to that officer's age public key, so whoever runs them cannot read any. `keygen` makes your key pair; `open` shows what a packet made for you holds. The files are age's own format: age-keygen and `age -d` work with them too.",
    )
    .addHelpText(
      'after',
      examples(
        'enclave officer keygen --out ~/.enclave/alice.key     # prints your public key: it goes in seal.recipients',
        'enclave officer open --identity ~/.enclave/alice.key < alice.share.age',
        'enclave unseal --identity ~/.enclave/alice.key < alice.share.age',
      ),
    );
  officer
    .command('keygen')
    .summary('make your age key pair; prints the public key for seal.recipients')
    .description("Writes a new age identity (X25519) to --out, readable by you alone (0600), and prints its public key, which goes in the configuration as seal.recipients.<your officer id>. Keep the file as you would the share itself: it opens what init and rekey encrypt to you. An existing file is never overwritten.")
    .requiredOption('--out <file>', 'where to write the identity (secret key)')
    .option('--json', 'print the public key as JSON')
    .action(async (opts: { out: string; json?: boolean }) => {
      const out = new Output(io, { json: opts.json === true });
      const { newOfficerKey } = await import('../../crypto/officer-packet.ts');
      const { writePrivateFile } = await import('../../storage/private-files.ts');
      const { identity, recipient } = await newOfficerKey();
      try {
        // O_EXCL: never over an existing file (it may be the key your shares are encrypted to), nor through a symbolic link.
        writePrivateFile(opts.out, `# created: ${new Date().toISOString()}\n# public key: ${recipient}\n${identity}\n`, { exclusive: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw usageError(`--out: ${opts.out} exists; it is never overwritten (it may be the key your shares are encrypted to)`);
        throw pathError(err, `--out ${opts.out}`);
      }
      out.result({ identity_file: opts.out, recipient }, () => [`Wrote ${displayPath(opts.out)} (your secret key; keep it like your share).`, `Public key, for seal.recipients in the configuration:`, `  ${recipient}`].join('\n'));
    });
  officer
    .command('open')
    .summary('show the share (and token) a packet made for you holds')
    .description('Reads an encrypted packet that init or rekey printed for you on standard input, opens it with your identity file and prints your officer id, unseal share and, from init, bootstrap token. They are then on your screen: prefer `enclave unseal --identity`, which sends the share to the server without showing it.')
    .requiredOption('--identity <file>', 'your age identity file (from `enclave officer keygen` or age-keygen)')
    .option('--json', 'print as JSON')
    .action(async (opts: { identity: string; json?: boolean }) => {
      const out = new Output(io, { json: opts.json === true });
      const packet = await openPipedPacket(io, opts.identity);
      out.result(packet, (p) => [`officer  ${p.officer}`, `share    ${p.share}`, ...(p.token === undefined ? [] : [`token    ${p.token}`])].join('\n'));
    });
}
