// `enclave seal`: drops every key from the server's memory at once.
import type { Command } from 'commander';
import type { SealStatus } from '../../services/seal-service.ts';
import type { CliContext } from '../context.ts';
import { addClientOptions, clientOf, examples } from '../options.ts';
import { Output } from '../output.ts';

export function registerSeal(program: Command, { io }: CliContext): void {
  const cmd = program
    .command('seal')
    .summary('seal the running server now')
    .description(
      `Seals the running server: every key is dropped from memory and no protected data is served until the threshold of officers unseal it again. Needs a token whose role may enclave.seal (gatekeeper officers).`,
    )
    .option('--json', 'print the seal status as JSON');
  addClientOptions(cmd)
    .addHelpText('after', examples('ENCLAVE_TOKEN=enc_… enclave seal'))
    .action(async (opts: { json?: boolean }, command: Command) => {
      const out = new Output(io, { json: opts.json === true });
      const client = await clientOf(command);
      const { body } = await client.post<SealStatus>('/v1/sys/seal', {});
      out.result(body, (s) => `sealed: no protected data is served until ${s.threshold} officers unseal again`);
    });
}
