// Whether a response may be gzipped, by the request's Accept-Encoding (RFC 9110 §12.5.3). Codings are
// case-insensitive and x-gzip is gzip (§8.4.1.3); q=0 means "not acceptable" (§12.4.2); "*" stands for
// every coding not listed; of the acceptable ones the highest q wins, gzip on a tie. When neither is
// acceptable, identity is sent (§12.5.3 leaves the choice; an error would only hide the log). Without the
// field this server sends identity (it MAY choose any coding, and identity is what every client reads).

// A member: coding, then parameters, of which only q counts (§12.4.2: "0" to "1", three decimals at most).
const MEMBER = /^([!#$%&'*+.^_`|~0-9a-z-]+)[\t ]*((?:;[\t ]*[!#$%&'*+.^_`|~0-9a-z-]+=[^;,]*[\t ]*)*)$/i;
const QVALUE = /(?:^|;)[\t ]*q=(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)[\t ]*(?:;|$)/i;
const ANY_Q = /(?:^|;)[\t ]*q=/i;

/** The q of each coding named (lower case; x-gzip as gzip); members that do not parse are skipped. */
function weights(field: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const raw of field.split(',')) {
    const m = MEMBER.exec(raw.trim());
    if (!m?.[1]) continue;
    const params = m[2] ?? '';
    const q = QVALUE.exec(params);
    // A q that is not a qvalue (q=2, q=abc): the member says nothing reliable; skip it.
    if (!q && ANY_Q.test(params)) continue;
    const coding = m[1].toLowerCase() === 'x-gzip' ? 'gzip' : m[1].toLowerCase();
    const weight = q?.[1] === undefined ? 1 : Number(q[1]);
    out.set(coding, Math.max(weight, out.get(coding) ?? 0));
  }
  return out;
}

/** Whether gzip is acceptable to the client and preferred to identity. */
export function acceptsGzip(field: string | undefined): boolean {
  if (field === undefined) return false;
  const w = weights(field);
  const any = w.get('*');
  const gzip = w.get('gzip') ?? any ?? 0;
  if (gzip <= 0) return false;
  // identity is acceptable unless refused (identity;q=0, or *;q=0 without identity listed).
  const identity = w.get('identity') ?? any;
  return identity === undefined || gzip >= identity;
}
