// `enclave token create|list|revoke`: bearer tokens of principals, managed on the control store directly
// (no server needed). Only a token's hash is stored: the secret is printed once, by `create`.
import type { Command } from 'commander';
import type { TokenWithPrincipal } from '../../core/store.ts';
import type { CliContext } from '../context.ts';
import { configPathOf, examples, integerIn } from '../options.ts';
import { columns, Output } from '../output.ts';

interface CreateOptions {
  readonly principal: string;
  readonly org: string;
  readonly role: string;
  readonly ttl?: number;
  readonly label?: string;
  readonly json?: boolean;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function tokenState(t: TokenWithPrincipal, now = Date.now()): 'active' | 'revoked' | 'expired' {
  if (t.token.revokedAt !== null) return 'revoked';
  if (t.token.expiresAt !== null && t.token.expiresAt <= now) return 'expired';
  return 'active';
}

export function registerToken(program: Command, { io }: CliContext): void {
  const token = program
    .command('token')
    .summary('create, list and revoke bearer tokens')
    .description('Bearer tokens of principals. These commands open the control store named by the configuration directly; no server is needed.')
    .addHelpText('after', examples('enclave token create --principal app --org platform --role service', 'enclave token list', 'enclave token revoke tok_AbC123'));

  token
    .command('create')
    .summary('issue a token to a principal (the secret is printed once)')
    .description(
      `Issues a bearer token to PRINCIPAL, created on first use with ORG and ROLE from the configuration. The secret is printed once; only its SHA-256 hash is stored.`,
    )
    .requiredOption('--principal <id>', 'who the token is for (lower case letters, digits, - and _)')
    .requiredOption('--org <org>', 'their org in the configuration')
    .requiredOption('--role <role>', 'their role in that org')
    .option('--ttl <seconds>', 'lifetime in seconds (default: until revoked)', integerIn(1, 10 * 365 * 24 * 3600))
    .option('--label <text>', 'a note to recognize the token by in `token list`')
    .option('--json', 'print the token as JSON')
    .addHelpText(
      'after',
      examples(
        'enclave token create --principal app --org platform --role service',
        'enclave token create --principal alice --org gatekeeper --role officer --ttl 28800 --label "on call"',
        'export ENCLAVE_TOKEN=$(enclave token create --principal app --org platform --role service --json | jq -r .secret)',
      ),
    )
    .action(async (opts: CreateOptions, cmd: Command) => {
      const out = new Output(io, { json: opts.json === true });
      const { withLocalEnclave } = await import('../local-enclave.ts');
      const issued = await withLocalEnclave(configPathOf(cmd), (enclave) =>
        enclave.tokens.issue({
          principal: opts.principal,
          org: opts.org,
          role: opts.role,
          ...(opts.label === undefined ? {} : { label: opts.label }),
          ...(opts.ttl === undefined ? {} : { ttlSeconds: opts.ttl }),
        }),
      );
      out.result(
        { id: issued.id, secret: issued.secret, principal: issued.principal, org: issued.org, role: issued.role, expires_at: issued.expiresAt },
        (t) =>
          [
            columns([
              ['id', t.id],
              ['principal', `${t.principal} (${t.org}/${t.role})`],
              ['expires', t.expires_at ?? 'never (until revoked)'],
              ['secret', t.secret],
            ], ''),
            'The secret is shown once: only its hash is stored. Send it as "Authorization: Bearer <secret>".',
          ].join('\n'),
      );
    });

  token
    .command('list')
    .summary('list tokens (never their secrets)')
    .option('--json', 'print the tokens as JSON')
    .addHelpText('after', examples('enclave token list', 'enclave token list --json'))
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const out = new Output(io, { json: opts.json === true });
      const { withLocalEnclave } = await import('../local-enclave.ts');
      const tokens = await withLocalEnclave(configPathOf(cmd), (enclave) => enclave.tokens.list());
      const now = Date.now();
      const rows = tokens.map((t) => ({
        id: t.token.id,
        principal: t.principal.id,
        org: t.principal.org,
        role: t.principal.role,
        label: t.token.label,
        state: tokenState(t, now),
        created_at: iso(t.token.createdAt),
        expires_at: iso(t.token.expiresAt),
        revoked_at: iso(t.token.revokedAt),
      }));
      out.result(rows, (list) =>
        list.length === 0
          ? 'no tokens (create one with `enclave token create`)'
          : columns(
              [['ID', 'PRINCIPAL', 'ORG/ROLE', 'STATE', 'CREATED', 'EXPIRES', 'LABEL'], ...list.map((t) => [t.id, t.principal, `${t.org}/${t.role}`, t.state, t.created_at ?? '', t.expires_at ?? 'never', t.label])],
              '',
            ),
      );
    });

  token
    .command('revoke')
    .summary('revoke a token at once')
    .argument('<id>', 'the token id (tok_…), as shown by create and list')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', examples('enclave token revoke tok_AbC123'))
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const out = new Output(io, { json: opts.json === true });
      const { withLocalEnclave } = await import('../local-enclave.ts');
      await withLocalEnclave(configPathOf(cmd), (enclave) => enclave.tokens.revoke(id));
      out.result({ id, revoked: true }, () => `revoked ${id}`);
    });
}
