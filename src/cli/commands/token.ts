// `enclave token create|approve|reject|list|revoke`: bearer tokens, through the API of a running server.
// No one person issues a token for anyone (invariant 6): `create` proposes one and receives its secret
// once, dormant until k approvers (gatekeeper.token_approval) approve. Revoking one's own token is
// immediate; revoking someone else's is a proposal too. The first tokens come from `enclave init`.
import type { Command } from 'commander';
import type { ProposalView, TokenView } from '../../services/change-service.ts';
import { seg } from '../api-client.ts';
import type { CliContext } from '../context.ts';
import { addClientOptions, clientOf, configId, examples, integerIn, tokenId } from '../options.ts';
import { columns, Output } from '../output.ts';
import { describeProposal } from './gatekeeper-views.ts';
import { registerProposalVerdicts } from './policy.ts';

interface CreateOptions {
  readonly principal: string;
  readonly org: string;
  readonly role: string;
  readonly ttl?: number;
  readonly label?: string;
  readonly json?: boolean;
}

export function registerToken(program: Command, { io }: CliContext): void {
  const token = program
    .command('token')
    .summary('propose, approve, list and revoke bearer tokens')
    .description(
      'Bearer tokens of principals, through a running server. A token is proposed by one gatekeeper member and works only once k others approve it; its secret is shown once, to the proposer, and only its hash is stored. `enclave init` gives each seal officer a first token.',
    )
    .addHelpText(
      'after',
      examples('enclave token create --principal app --org platform --role service', 'enclave token approve prop_AbC123def456', 'enclave token list', 'enclave token rotate', 'enclave token revoke tok_AbC123def456'),
    );

  addClientOptions(
    token
      .command('create')
      .summary('propose a token for a principal (its secret is printed once, and works after approval)')
      .description(
        'Proposes a bearer token for PRINCIPAL, created on first use with ORG and ROLE from the configuration. The secret is printed once; it works only after gatekeeper.token_approval is met (the proposer never counts). Hand it to its principal, who runs `enclave token rotate` with it on receipt, so that no copy the proposer saw stays valid.',
      )
      .requiredOption('--principal <id>', 'who the token is for (lower case letters, digits, - and _)', configId)
      .requiredOption('--org <org>', 'their org in the configuration', configId)
      .requiredOption('--role <role>', 'their role in that org', configId)
      .option('--ttl <seconds>', 'lifetime in seconds from approval (default: until revoked)', integerIn(1, 10 * 365 * 24 * 3600))
      .option('--label <text>', 'a note to recognize the token by in `token list`')
      .option('--json', 'print the proposal and the secret as JSON'),
  )
    .addHelpText(
      'after',
      examples(
        'enclave token create --principal app --org platform --role service',
        'enclave token create --principal dana --org gatekeeper --role approver --ttl 28800 --label "on call"',
      ),
    )
    .action(async (opts: CreateOptions, cmd: Command) => {
      const client = await clientOf(cmd);
      const { body } = await client.post<{ proposal: ProposalView; secret: string }>('/v1/tokens', {
        principal: opts.principal,
        org: opts.org,
        role: opts.role,
        ...(opts.ttl === undefined ? {} : { ttl_seconds: opts.ttl }),
        ...(opts.label === undefined ? {} : { label: opts.label }),
      });
      new Output(io, { json: opts.json === true }).result(body, (b) =>
        [
          columns([
            ['proposal', b.proposal.id],
            ['token', b.proposal.token?.token_id ?? '?'],
            ['principal', `${opts.principal} (${opts.org}/${opts.role})`],
            ['secret', b.secret],
          ], ''),
          `The secret is shown once and works after ${b.proposal.quorum.missing}: approvers run \`enclave token approve ${b.proposal.id}\`. Its holder then runs \`enclave token rotate\` with it, which revokes this copy.`,
        ].join('\n'),
      );
    });

  registerProposalVerdicts(token, io, 'token');

  addClientOptions(token.command('list').summary('list tokens (never their secrets)').option('--proposals', 'list token proposals instead').option('--json', 'print as JSON'))
    .addHelpText('after', examples('enclave token list', 'enclave token list --proposals'))
    .action(async (opts: { proposals?: boolean; json?: boolean }, cmd: Command) => {
      const client = await clientOf(cmd);
      const out = new Output(io, { json: opts.json === true });
      if (opts.proposals === true) {
        const issue = (await client.get<{ proposals: ProposalView[] }>('/v1/proposals?kind=token.issue')).body.proposals;
        const revoke = (await client.get<{ proposals: ProposalView[] }>('/v1/proposals?kind=token.revoke')).body.proposals;
        out.result([...issue, ...revoke], (list) => (list.length === 0 ? 'no token proposals' : list.map(describeProposal).join('\n\n')));
        return;
      }
      const { body } = await client.get<{ tokens: TokenView[] }>('/v1/tokens');
      out.result(body.tokens, (list) =>
        list.length === 0
          ? 'no tokens'
          : columns([['ID', 'PRINCIPAL', 'ORG/ROLE', 'STATE', 'CREATED', 'EXPIRES', 'LABEL'], ...list.map((t) => [t.id, t.principal, `${t.org}/${t.role}`, t.state, t.created_at, t.expires_at ?? 'never', t.label])], ''),
      );
    });

  addClientOptions(
    token
      .command('rotate')
      .summary('replace the token you use with a new one and revoke it (no approval needed)')
      .description(
        'Replaces the token this command authenticates with by a new token of the same principal, label and expiry, and revokes the old one at once. Run it when you receive a token someone else proposed for you: its proposer saw the secret. The new secret is printed once; use it from now on.',
      )
      .option('--json', 'print the new token and its secret as JSON'),
  )
    .addHelpText('after', examples('enclave token rotate', 'enclave token rotate --json'))
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { body } = await (await clientOf(cmd)).post<{ token: TokenView; secret: string; replaced: string }>('/v1/tokens/rotate', {});
      new Output(io, { json: opts.json === true }).result(body, (b) =>
        [
          columns([
            ['token', b.token.id],
            ['principal', `${b.token.principal} (${b.token.org}/${b.token.role})`],
            ['expires', b.token.expires_at ?? 'never'],
            ['secret', b.secret],
          ], ''),
          `${b.replaced} is revoked. The secret is shown once: use it from now on.`,
        ].join('\n'),
      );
    });

  addClientOptions(token.command('revoke').summary('revoke your own token at once, or propose revoking another').argument('<id>', 'the token id (tok_…)', tokenId).option('--json', 'print the result as JSON'))
    .addHelpText('after', examples('enclave token revoke tok_AbC123def456'))
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const { body } = await (await clientOf(cmd)).post<{ revoked: true; token: string } | { revoked: false; proposal: ProposalView }>(`/v1/tokens/${seg(id)}/revoke`, {});
      new Output(io, { json: opts.json === true }).result(body, (b) => (b.revoked ? `revoked ${b.token}` : `proposed revoking ${id}: ${b.proposal.id} (needs ${b.proposal.quorum.missing})`));
    });
}
