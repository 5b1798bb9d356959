// `enclave access request|approve|deny|revoke|list|show` and `enclave break-glass open|review|list`:
// access to protected fields through the API of a running server (issue 3 points 2–4).
import { Option, type Command } from 'commander';
import { REQUEST_STATES } from '../../core/api-ids.ts';
import type { AccessRequestView, GrantView } from '../../services/access-service.ts';
import { seg } from '../api-client.ts';
import type { CliContext } from '../context.ts';
import { usageError } from '../fail.ts';
import { addClientOptions, clientOf, collect, durationSeconds, examples, requestId } from '../options.ts';
import { Output } from '../output.ts';
import { describeGrant, describeRequest, giveVerdict, paths } from './gatekeeper-views.ts';

interface ScopeOptions {
  readonly subject?: string[];
  readonly collection?: string[];
  readonly field?: string[];
  readonly purpose?: string;
  readonly code: string;
  readonly reason: string;
  readonly duration: number;
  readonly json?: boolean;
}

/** The options that describe what is asked for, shared by `access request` and `break-glass open`. */
function scopeOptions(cmd: Command, defaultDuration: string): Command {
  return cmd
    .option('--subject <id>', 'a subject the access is for (repeatable)', collect)
    .option('--collection <name>', 'a collection the access is for (repeatable)', collect)
    .option('--field <collection.field>', 'a protected field, e.g. messages.body (repeatable; default: every protected field of the scope)', collect)
    .requiredOption('--code <code>', 'the justification code (gatekeeper.justification_codes)')
    .requiredOption('--reason <text>', 'why, in words (at least gatekeeper.min_justification_length characters)')
    // The default is shown as it is typed (1h), not as the seconds it parses to, which the option refuses.
    .addOption(new Option('--duration <duration>', 'how long the grant lasts: 90s, 15m, 8h').argParser(durationSeconds).default(durationSeconds(defaultDuration), defaultDuration))
    .option('--json', 'print the result as JSON');
}

function body(opts: ScopeOptions): Record<string, unknown> {
  if (opts.purpose === undefined || opts.purpose === '') throw usageError('state the purpose of the access with --purpose (or ENCLAVE_PURPOSE)');
  return {
    scope: { ...(opts.subject ? { subjects: opts.subject } : {}), ...(opts.collection ? { collections: opts.collection } : {}), ...(opts.field ? { fields: opts.field } : {}) },
    purpose: opts.purpose,
    justification: { code: opts.code, text: opts.reason },
    duration_seconds: opts.duration,
  };
}

export function registerAccess(program: Command, { io }: CliContext): void {
  const access = program
    .command('access')
    .summary('request, approve, deny, revoke and list access to protected fields')
    .description(
      'Access to protected fields for gatekeeper staff: a justified, scoped, time-bound request that k approvers from the configured groups approve (never the requester). The last approval creates the grant; reads that state its purpose (--purpose) are then released under it.',
    )
    .addHelpText(
      'after',
      examples(
        'enclave access request --subject u-42 --collection messages --purpose support --code support-ticket --reason "ticket 4711: messages missing" --duration 2h',
        'enclave access approve req_AbC123def456',
        'enclave access list --status pending',
        'enclave record get messages m-7 --purpose support        # under the grant',
      ),
    );

  addClientOptions(scopeOptions(access.command('request').summary('ask for access to protected fields'), '1h'))
    .addHelpText('after', examples('enclave access request --subject u-42 --collection messages --purpose support --code support-ticket --reason "ticket 4711: the user reports missing messages"'))
    .action(async (opts: ScopeOptions, cmd: Command) => {
      const client = await clientOf(cmd);
      const { body: r } = await client.post<AccessRequestView>('/v1/access/requests', body(opts));
      new Output(io, { json: opts.json === true }).result(r, (v) => `${describeRequest(v)}\nApprovers run: enclave access approve ${v.id}`);
    });

  for (const verdict of ['approve', 'deny'] as const) {
    addClientOptions(
      access
        .command(verdict)
        .summary(verdict === 'approve' ? 'approve a pending request (by the digest of what you are shown)' : 'deny a pending request')
        .argument('<id>', 'the request id (req_…)', requestId)
        .option('--comment <text>', 'a note kept with your verdict')
        .option('--json', 'print the request as JSON'),
    )
      .addHelpText('after', examples(`enclave access ${verdict} req_AbC123def456`))
      .action(async (id: string, opts: { comment?: string; json?: boolean }, cmd: Command) => {
        const out = new Output(io, { json: opts.json === true });
        const r = await giveVerdict<AccessRequestView>(await clientOf(cmd), out, { show: paths.request(id), post: `${paths.request(id)}/${verdict}`, body: opts.comment ? { comment: opts.comment } : {} }, describeRequest);
        out.result(r, (v) => `${v.id}: ${v.status}${v.grant ? `, grant ${v.grant}` : v.status === 'pending' ? ` (needs ${v.quorum.missing})` : ''}`);
      });
  }

  addClientOptions(access.command('show').summary('show one request with its approvals and digest').argument('<id>', 'the request id', requestId).option('--json', 'print the request as JSON'))
    .addHelpText('after', examples('enclave access show req_AbC123def456'))
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const { body: r } = await (await clientOf(cmd)).get<AccessRequestView>(paths.request(id));
      new Output(io, { json: opts.json === true }).result(r, describeRequest);
    });

  addClientOptions(
    access
      .command('list')
      .summary('list requests (or, with --grants, grants)')
      .addOption(new Option('--status <status>', 'only requests in this state').choices(REQUEST_STATES))
      .option('--grants', 'list grants instead, with their state')
      .option('--json', 'print the list as JSON'),
  )
    .addHelpText('after', examples('enclave access list --status pending', 'enclave access list --grants'))
    .action(async (opts: { status?: string; grants?: boolean; json?: boolean }, cmd: Command) => {
      const client = await clientOf(cmd);
      const out = new Output(io, { json: opts.json === true });
      if (opts.grants === true) {
        const { body: g } = await client.get<{ grants: GrantView[] }>('/v1/access/grants');
        out.result(g.grants, (list) => (list.length === 0 ? 'no grants' : list.map(describeGrant).join('\n')));
        return;
      }
      const q = opts.status === undefined ? '' : `?status=${encodeURIComponent(opts.status)}`;
      const { body: r } = await client.get<{ requests: AccessRequestView[] }>(`/v1/access/requests${q}`);
      out.result(r.requests, (list) => (list.length === 0 ? 'no requests' : list.map(describeRequest).join('\n\n')));
    });

  addClientOptions(access.command('revoke').summary('revoke a grant at once').argument('<grant>', 'the grant id (gr_…)').option('--json', 'print the grant as JSON'))
    .addHelpText('after', examples('enclave access revoke gr_AbC123def456'))
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const { body: g } = await (await clientOf(cmd)).post<GrantView>(`/v1/access/grants/${seg(id)}/revoke`, {});
      new Output(io, { json: opts.json === true }).result(g, describeGrant);
    });

  const glass = program
    .command('break-glass')
    .summary('emergency access without prior approval: open, review, list')
    .description(
      'Break-glass opens a short grant at once for the configured roles, with a justification. It is flagged everywhere (responses, log) and must be reviewed by k approvers within the configured time; an unreviewed one is reported as overdue, and an unjustified verdict revokes it. It names its subjects (--subject, at most gatekeeper.break_glass.max_subjects), and one principal holds at most gatekeeper.break_glass.max_open open at once and has at most gatekeeper.break_glass.max_unreviewed uses awaiting review: wider access is an access request.',
    )
    .addHelpText(
      'after',
      examples(
        'enclave break-glass open --subject u-42 --purpose security --code security-incident --reason "account takeover in progress" --duration 30m',
        'enclave break-glass list --overdue',
        'enclave break-glass review bg_AbC123def456',
      ),
    );

  addClientOptions(scopeOptions(glass.command('open').summary('open emergency access now'), '15m'))
    .addHelpText('after', examples('enclave break-glass open --subject u-42 --purpose security --code security-incident --reason "account takeover in progress, tracing the attacker"'))
    .action(async (opts: ScopeOptions, cmd: Command) => {
      const out = new Output(io, { json: opts.json === true });
      const { body: r } = await (await clientOf(cmd)).post<AccessRequestView>('/v1/break-glass', body(opts));
      out.warn(`BREAK-GLASS: grant ${r.grant ?? '?'} is open; it is logged and must be reviewed by ${r.expires_at}`);
      out.result(r, describeRequest);
    });

  addClientOptions(
    glass
      .command('review')
      .summary('review a break-glass use (justified unless --unjustified)')
      .argument('<id>', 'the break-glass id (bg_…)', requestId)
      .option('--unjustified', 'find it unjustified: its grant is revoked at once')
      .option('--comment <text>', 'a note kept with your review')
      .option('--json', 'print the result as JSON'),
  )
    .addHelpText('after', examples('enclave break-glass review bg_AbC123def456', 'enclave break-glass review bg_AbC123def456 --unjustified --comment "no incident ticket"'))
    .action(async (id: string, opts: { unjustified?: boolean; comment?: string; json?: boolean }, cmd: Command) => {
      const out = new Output(io, { json: opts.json === true });
      const verdict = opts.unjustified === true ? 'unjustified' : 'justified';
      const r = await giveVerdict<AccessRequestView>(await clientOf(cmd), out, { show: paths.request(id), post: `/v1/break-glass/${seg(id)}/review`, body: { verdict, ...(opts.comment ? { comment: opts.comment } : {}) } }, describeRequest);
      out.result(r, (v) => `${v.id}: review ${v.review ?? '?'}`);
    });

  addClientOptions(glass.command('list').summary('list break-glass uses and their review state').option('--overdue', 'only those unreviewed past their deadline').option('--json', 'print the list as JSON'))
    .addHelpText('after', examples('enclave break-glass list', 'enclave break-glass list --overdue'))
    .action(async (opts: { overdue?: boolean; json?: boolean }, cmd: Command) => {
      const { body: r } = await (await clientOf(cmd)).get<{ requests: AccessRequestView[]; overdue: number }>(`/v1/break-glass${opts.overdue === true ? '?review=overdue' : ''}`);
      new Output(io, { json: opts.json === true }).result(r, (v) =>
        [`${v.overdue} overdue`, ...v.requests.map(describeRequest)].join('\n\n'),
      );
    });
}
