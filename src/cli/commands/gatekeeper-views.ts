// How the gatekeeper's objects print for people (the --json forms are the API's own), and the one way
// every approval is given from the command line: fetch the object, show what is being approved, and
// approve it by the digest just fetched, so the approval binds to what the approver saw.
import type { AccessRequestView, GrantView } from '../../services/access-service.ts';
import type { ProposalView } from '../../services/change-service.ts';
import type { ApiClient } from '../api-client.ts';
import { seg } from '../api-client.ts';
import { columns, printable, type Output } from '../output.ts';

function scopeText(s: AccessRequestView['scope']): string {
  const parts = [
    s.subjects.length > 0 ? `subjects ${s.subjects.join(', ')}` : 'every subject',
    s.collections.length > 0 ? `collections ${s.collections.join(', ')}` : '',
    s.fields.length > 0 ? `fields ${s.fields.join(', ')}` : '',
  ];
  return parts.filter((p) => p !== '').join('; ');
}

export function describeRequest(r: AccessRequestView): string {
  const state = r.kind === 'breakglass' ? `BREAK-GLASS, review: ${r.review ?? '?'}` : r.status;
  return [
    `${r.id}  ${state}`,
    columns([
      ['requester', `${r.requester.id} (${r.requester.org}/${r.requester.role})`],
      ['scope', scopeText(r.scope)],
      ['reaches', r.reaches.join(', ')],
      ['purpose', r.purpose],
      ['justification', `${r.justification.code}: ${r.justification.text}`],
      ['duration', `${r.duration_seconds} s`],
      [r.kind === 'breakglass' ? 'review by' : 'expires', r.expires_at],
      ...(r.grant ? [['grant', r.grant]] : []),
      ['approvals', r.approvals.length === 0 ? 'none' : r.approvals.map((a) => `${a.approver} ${a.verdict}${a.counts ? '' : ' (does not count)'}`).join(', ')],
      ['quorum', r.quorum.met ? `met (k = ${r.quorum.k})` : `needs ${r.quorum.missing}`],
      ['digest', r.digest],
    ]),
  ].join('\n');
}

/** One line, whatever the server put in it. */
export function describeGrant(g: GrantView): string {
  return printable(`${g.id}  ${g.state}${g.breakglass ? '  BREAK-GLASS' : ''}  ${g.principal}  ${scopeText(g.scope)}  purpose ${g.purpose}  until ${g.expires_at}${g.revoked_by ? `  revoked by ${g.revoked_by}` : ''}`);
}

export function describeProposal(p: ProposalView): string {
  const what =
    p.policy !== undefined
      ? `policy set against version ${p.policy.diff.base_version}${p.policy.description ? `: ${p.policy.description}` : ''}`
      : p.token !== undefined
        ? `token ${p.token.token_id} for ${p.token.principal} (${p.token.org}/${p.token.role})${p.token.ttl_seconds === null ? '' : `, ${p.token.ttl_seconds} s`}`
        : `revoke token ${p.revoke?.token_id ?? '?'} of ${p.revoke?.principal ?? '?'}`;
  const lines = [
    `${p.id}  ${p.kind}  ${p.status}${p.outcome ? ` (${p.outcome})` : ''}`,
    columns([
      ['proposer', `${p.proposer.id} (${p.proposer.org}/${p.proposer.role})`],
      ['proposes', what],
      ['expires', p.expires_at],
      ['approvals', p.approvals.length === 0 ? 'none' : p.approvals.map((a) => `${a.approver} ${a.verdict}${a.counts ? '' : ' (does not count)'}`).join(', ')],
      ['quorum', p.quorum.met ? `met (k = ${p.quorum.k})` : `needs ${p.quorum.missing}`],
      ['digest', p.digest],
    ]),
  ];
  if (p.policy) {
    const d = p.policy.diff;
    lines.push(printable(`  policies added: ${d.added.join(', ') || 'none'}; removed: ${d.removed.join(', ') || 'none'}; changed: ${d.changed.join(', ') || 'none'}`));
    if (d.text !== '') lines.push('', d.text.trimEnd());
  }
  return lines.join('\n');
}

/**
 * Gives a verdict on an access request, a break-glass use or a proposal: fetches it and sends the verdict
 * with the digest of exactly that content. Once the verdict is given, what it was given on (as it now
 * stands, with that verdict among its approvals) is printed on stderr; a refused verdict prints nothing
 * here, so that its one error line is all there is.
 */
export async function giveVerdict<T extends { digest: string }>(
  client: ApiClient,
  out: Output,
  target: { show: string; post: string; body: Record<string, unknown> },
  describe: (value: T) => string,
): Promise<T> {
  const current = (await client.get<T>(target.show)).body;
  const given = (await client.post<T>(target.post, { ...target.body, digest: current.digest })).body;
  if (!out.json) out.note(`reviewed:\n${describe(given)}`);
  return given;
}

export const paths = {
  request: (id: string) => `/v1/access/requests/${seg(id)}`,
  proposal: (id: string) => `/v1/proposals/${seg(id)}`,
};
