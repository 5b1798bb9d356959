// `enclave erase`: crypto-shredding of a subject through the API. Irreversible, so it asks first.
import type { Command } from 'commander';
import { seg } from '../api-client.ts';
import type { CliContext } from '../context.ts';
import { CliError, usageError } from '../fail.ts';
import { addClientOptions, clientOf, examples, recordId } from '../options.ts';
import { Output, plural } from '../output.ts';
import { ask } from '../prompt.ts';

interface EraseResult {
  readonly subject: string;
  readonly records: number;
  readonly erased_at: string;
}

export function registerErase(program: Command, { io }: CliContext): void {
  const cmd = program
    .command('erase')
    .summary("erase a subject: destroy their data key (irreversible)")
    .description(
      `Erases a subject by crypto-shredding: their data key is destroyed, so every record of theirs can never be read again and the API answers 410 Gone for them. IRREVERSIBLE. Without --yes it asks you to type the subject id on a terminal, and refuses when there is no terminal to ask on.`,
    )
    .argument('<subject>', 'the subject id', recordId)
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--json', 'print the result as JSON');
  addClientOptions(cmd)
    .addHelpText('after', examples('enclave erase u-42', 'enclave erase u-42 --yes      # scripts: no question asked'))
    .action(async (subject: string, opts: { yes?: boolean; json?: boolean }, command: Command) => {
      const client = await clientOf(command);
      if (opts.yes !== true) {
        if (io.stdin.isTTY !== true) throw usageError(`refusing to erase ${subject} without --yes: there is no terminal to confirm on`);
        const answer = await ask(io, `Erase ${subject}? Their data key is destroyed and their records can never be read again. Type the subject id to confirm: `);
        if (answer !== subject) throw new CliError('aborted', `not erased: the answer did not match "${subject}"`);
      }
      const { body } = await client.request<EraseResult>('DELETE', `/v1/subjects/${seg(subject)}`);
      new Output(io, { json: opts.json === true }).result(body, (r) => `erased ${r.subject}: their data key is destroyed; ${plural(r.records, 'record')} can never be read again`);
    });
}
