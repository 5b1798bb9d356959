// `enclave subject register|show|rehome`: data subjects through the API. The server picks the site from
// the residence country; re-homing after a move is explicit.
import type { Command } from 'commander';
import type { RehomeResult, SubjectView } from '../../services/vault.ts';
import { seg } from '../api-client.ts';
import type { CliContext } from '../context.ts';
import { addClientOptions, clientOf, countryCode, examples, recordId } from '../options.ts';
import { columns, Output, plural } from '../output.ts';

export function describeSubject(s: SubjectView): string {
  return columns(
    [
      ['subject', s.id],
      ['country', s.country],
      ['jurisdiction', s.jurisdiction],
      ['site', s.site],
      ['registered', s.created_at],
      ...(s.erased ? [['erased', s.erased_at ?? 'yes']] : []),
    ],
    '',
  );
}

export function registerSubject(program: Command, { io }: CliContext): void {
  const subject = program
    .command('subject')
    .summary('register, show and re-home data subjects')
    .description('Data subjects, through the API of a running server. A subject lives at the home site of the jurisdiction of their residence country.')
    .addHelpText('after', examples('enclave subject register u-42 --country US', 'enclave subject show u-42', 'enclave subject rehome u-42 --country DE'));

  addClientOptions(
    subject
      .command('register')
      .summary('register a subject at the home site of their country')
      .description('Registers a subject. A country that no jurisdiction covers is refused (no_jurisdiction): data is never stored anywhere by default.')
      .argument('<id>', 'the subject id (pseudonymous)', recordId)
      .requiredOption('--country <CC>', 'ISO 3166-1 alpha-2 residence country', countryCode)
      .option('--json', 'print the subject as JSON'),
  )
    .addHelpText('after', examples('enclave subject register u-42 --country US'))
    .action(async (id: string, opts: { country: string; json?: boolean }, cmd: Command) => {
      const client = await clientOf(cmd);
      const { body } = await client.post<SubjectView>('/v1/subjects', { id, country: opts.country });
      new Output(io, { json: opts.json === true }).result(body, (s) => `registered ${s.id} (${s.country}) in jurisdiction ${s.jurisdiction} at site ${s.site}`);
    });

  addClientOptions(
    subject
      .command('show')
      .summary('show where a subject lives')
      .argument('<id>', 'the subject id', recordId)
      .option('--json', 'print the subject as JSON'),
  )
    .addHelpText('after', examples('enclave subject show u-42'))
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const client = await clientOf(cmd);
      const { body } = await client.get<SubjectView>(`/v1/subjects/${seg(id)}`);
      new Output(io, { json: opts.json === true }).result(body, describeSubject);
    });

  addClientOptions(
    subject
      .command('rehome')
      .summary('move a subject after a change of residence')
      .description(
      `Re-homes a subject who moved: records the new residence country and, if it belongs to another jurisdiction, moves the subject and all their records to that jurisdiction's home site and purges them from the old one. Never done silently: this command is the only way.`,
    )
      .argument('<id>', 'the subject id', recordId)
      .requiredOption('--country <CC>', 'the new residence country', countryCode)
      .option('--json', 'print the result as JSON'),
  )
    .addHelpText('after', examples('enclave subject rehome u-42 --country DE'))
    .action(async (id: string, opts: { country: string; json?: boolean }, cmd: Command) => {
      const client = await clientOf(cmd);
      const { body } = await client.post<RehomeResult>(`/v1/subjects/${seg(id)}/rehome`, { country: opts.country });
      new Output(io, { json: opts.json === true }).result(
        body,
        (r) => `re-homed ${r.subject}: ${r.from.jurisdiction}/${r.from.site} → ${r.to.jurisdiction}/${r.to.site} (${plural(r.records, 'record')} moved)`,
      );
    });
}
