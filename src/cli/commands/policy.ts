// `enclave policy show|propose|approve|reject|proposals`: the Cedar policy set, changed only by proposal
// and quorum (issue 3 point 6), through the API of a running server.
import { Option, type Command } from 'commander';
import { PROPOSAL_STATES } from '../../core/api-ids.ts';
import type { PolicyVersionView, ProposalView } from '../../services/change-service.ts';
import type { CliContext } from '../context.ts';
import type { Io } from '../io.ts';
import { addClientOptions, clientOf, examples, integerIn, proposalId } from '../options.ts';
import { readInput } from '../output-files.ts';
import { columns, Output } from '../output.ts';
import { describeProposal, giveVerdict, paths } from './gatekeeper-views.ts';

interface ShowOptions {
  readonly policyVersion?: number;
  readonly schema?: boolean;
  readonly invariants?: boolean;
  readonly proposal?: string;
  readonly json?: boolean;
}


/** `approve` and `reject` of a proposal, for `policy` and `token` alike. */
export function registerProposalVerdicts(group: Command, io: Io, noun: string): void {
  for (const [name, path] of [['approve', 'approve'], ['reject', 'reject']] as const) {
    addClientOptions(
      group
        .command(name)
        .summary(name === 'approve' ? `approve a ${noun} proposal (by the digest of what you are shown)` : `reject a ${noun} proposal`)
        .argument('<proposal>', 'the proposal id (prop_…)', proposalId)
        .option('--comment <text>', 'a note kept with your verdict')
        .option('--json', 'print the proposal as JSON'),
    )
      .addHelpText('after', examples(`enclave ${group.name()} ${name} prop_AbC123def456`))
      .action(async (id: string, opts: { comment?: string; json?: boolean }, cmd: Command) => {
        const out = new Output(io, { json: opts.json === true });
        const p = await giveVerdict<ProposalView>(await clientOf(cmd), out, { show: paths.proposal(id), post: `${paths.proposal(id)}/${path}`, body: opts.comment ? { comment: opts.comment } : {} }, describeProposal);
        out.result(p, (v) => `${v.id}: ${v.status}${v.outcome ? ` (${v.outcome})` : v.status === 'pending' ? ` (needs ${v.quorum.missing})` : ''}`);
      });
  }
}

export function registerPolicy(program: Command, { io }: CliContext): void {
  const policy = program
    .command('policy')
    .summary('show the Cedar policies; propose and approve changes')
    .description(
      'The Cedar policy set every decision is made by. A new set is proposed as a whole file, refused at once if it does not parse or validate against the schema generated from the configuration, shown as a diff, and active only after k approvals (gatekeeper.policy_approval). The built-in invariants are always in force and cannot be replaced.',
    )
    .addHelpText(
      'after',
      examples('enclave policy show > policies.cedar', 'enclave policy propose --file policies.cedar --description "allow support reads of devices"', 'enclave policy approve prop_AbC123def456', 'enclave policy show --schema'),
    );

  addClientOptions(
    policy
      .command('show')
      .summary('print the active policy set (or a version, the schema, the invariants, a proposal)')
      .option('--policy-version <n>', 'a kept version instead of the active one', integerIn(1, 999_999_999))
      .option('--schema', 'the Cedar schema generated from the configuration')
      .option('--invariants', 'the built-in invariants')
      .option('--proposal <id>', 'a proposal, with its diff against the version it was made on')
      .option('--json', 'print as JSON'),
  )
    .addHelpText('after', examples('enclave policy show', 'enclave policy show --policy-version 1', 'enclave policy show --proposal prop_AbC123def456'))
    .action(async (opts: ShowOptions, cmd: Command) => {
      const client = await clientOf(cmd);
      const out = new Output(io, { json: opts.json === true });
      if (opts.proposal !== undefined) {
        out.result((await client.get<ProposalView>(paths.proposal(opts.proposal))).body, describeProposal);
      } else if (opts.schema === true) {
        out.result((await client.get<{ schema: string }>('/v1/policies/schema')).body, (s) => s.schema.trimEnd());
      } else if (opts.policyVersion !== undefined) {
        out.result((await client.get<PolicyVersionView & { text: string }>(`/v1/policies/versions/${opts.policyVersion}`)).body, (v) => v.text.trimEnd());
      } else {
        const { body } = await client.get<{ active: PolicyVersionView & { text: string }; invariants: string; versions: PolicyVersionView[] }>('/v1/policies');
        if (opts.invariants === true) out.result({ invariants: body.invariants }, (v) => v.invariants.trimEnd());
        else {
          out.result(body, (v) => v.active.text.trimEnd());
          if (!out.json) {
            out.note(`active: version ${body.active.version} (${body.active.digest}), activated ${body.active.activated_at}${body.active.approvers.length > 0 ? ` by ${body.active.approvers.join(', ')}` : ' (shipped default)'}`);
            out.note(columns(body.versions.map((x) => [`version ${x.version}`, x.activated_at, x.proposal ?? 'shipped default'])));
          }
        }
      }
    });

  addClientOptions(
    policy
      .command('propose')
      .summary('propose a new policy set (the whole set, from a file)')
      .requiredOption('--file <path>', 'the Cedar policy set (- for stdin); every policy needs an @id')
      .option('--description <text>', 'what the change is for')
      .option('--json', 'print the proposal as JSON'),
  )
    .addHelpText('after', examples('enclave policy propose --file policies.cedar --description "support may read devices"'))
    .action(async (opts: { file: string; description?: string; json?: boolean }, cmd: Command) => {
      const text = await readInput(io, opts.file);
      const { body } = await (await clientOf(cmd)).post<ProposalView>('/v1/policies/proposals', { text, ...(opts.description === undefined ? {} : { description: opts.description }) });
      new Output(io, { json: opts.json === true }).result(body, (p) => `${describeProposal(p)}\nApprovers run: enclave policy approve ${p.id}`);
    });

  registerProposalVerdicts(policy, io, 'policy');

  addClientOptions(policy.command('proposals').summary('list policy proposals').addOption(new Option('--status <status>', 'only proposals in this state').choices(PROPOSAL_STATES)).option('--json', 'print as JSON'))
    .addHelpText('after', examples('enclave policy proposals --status pending'))
    .action(async (opts: { status?: string; json?: boolean }, cmd: Command) => {
      const q = `?kind=policy${opts.status === undefined ? '' : `&status=${encodeURIComponent(opts.status)}`}`;
      const { body } = await (await clientOf(cmd)).get<{ proposals: ProposalView[] }>(`/v1/proposals${q}`);
      new Output(io, { json: opts.json === true }).result(body.proposals, (list) => (list.length === 0 ? 'no policy proposals' : list.map(describeProposal).join('\n\n')));
    });
}
