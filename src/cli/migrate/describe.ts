// What `enclave migrate …` prints for people (with --json the objects themselves are printed).
import type { CertificateCheck } from '../../core/deletion-certificate.ts';
import { showKey, decodeKey } from '../../core/migration-row.ts';
import type { Mismatch, VerificationInfo } from '../../core/migration-state.ts';
import type { MigrationPlan } from '../../services/migration/migration-planner.ts';
import type { PurgeReport } from '../../services/migration/migration-purger.ts';
import type { RunReport } from '../../services/migration/migration-runner.ts';
import { columns, count, printable, seconds, table } from '../output.ts';
import type { ProcessResources } from '../process-resources.ts';

const STAY_REASONS: Readonly<Record<string, string>> = {
  outside_jurisdictions: 'country in no jurisdiction',
  not_selected: 'jurisdiction not migrated by this mapping',
  no_country: 'no country',
  invalid_country: 'country not an ISO code',
  no_subject: 'no subject row',
};

const keyText = (encoded: string) => {
  try {
    return showKey(decodeKey(encoded));
  } catch {
    return encoded;
  }
};

const sum = (o: Readonly<Record<string, number | undefined>>) => Object.values(o).reduce<number>((a, b) => a + (b ?? 0), 0);

export function describePlan(p: MigrationPlan): string {
  const jurisdictions = [...new Set(p.tables.flatMap((t) => Object.keys(t.moves)))].sort();
  const sites = new Map(p.tables.flatMap((t) => Object.entries(t.moves).map(([j, m]) => [j, m.site] as const)));
  const header = ['TABLE', 'COLLECTION', 'ROWS', ...jurisdictions.map((j) => `TO ${j} (${sites.get(j) ?? '?'})`), 'STAY', 'REFUSED'];
  const rows = p.tables.map((t) => [t.table, t.collection, t.rows, ...jurisdictions.map((j) => t.moves[j]?.rows ?? 0), sum(t.stays), sum(t.refused)]);
  const lines = [`Plan of migration "${p.migration}" from ${p.source} (no data was changed)`, '', table(header, rows)];
  const stays = new Map<string, number>();
  for (const t of p.tables) for (const [r, n] of Object.entries(t.stays)) stays.set(r, (stays.get(r) ?? 0) + (n ?? 0));
  if (stays.size > 0) lines.push('', `Rows that stay at the source: ${[...stays].map(([r, n]) => `${STAY_REASONS[r] ?? r} ${count(n)}`).join('; ')}`);
  const refused = p.tables.flatMap((t) => t.refusedSamples.map((s) => ({ ...s, table: t.table })));
  if (refused.length > 0) {
    lines.push('', 'Rows that would be refused (they block the purge until fixed), for example:');
    lines.push(columns(refused.map((r) => [r.table, keyText(r.key), r.code, r.message])));
  }
  // Table names as the source spells them, and a refusal that names them: each on its one line.
  if (p.unmapped.length > 0) lines.push('', `Source tables not in the mapping (neither copied nor purged): ${printable(p.unmapped.join(', '))}`);
  if (p.purgeRefused !== null) lines.push('', `The purge would be refused (purge_refused): ${printable(p.purgeRefused)}`);
  return lines.join('\n');
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

export function describeRun(r: RunReport & { readonly resources?: ProcessResources }): string {
  const c = r.counters;
  const rate = r.ms > 0 ? Math.round((c.read / r.ms) * 1000) : 0;
  const lines = [
    r.complete
      ? `Migration "${r.migration}", pass ${r.pass}: done in ${seconds(r.ms)} (${count(rate)} rows/s this run)`
      : `Migration "${r.migration}", pass ${r.pass}: other workers still hold batches; run again to finish the pass`,
    columns([
      ['rows read', count(c.read)],
      ['copied', count(c.copied)],
      ['copied again (changed at the source)', count(c.recopied)],
      ['unchanged since the last pass', count(c.unchanged)],
      ['staying at the source', count(c.stayed)],
      ['refused', count(c.refused)],
      ['records removed (gone at the source)', count(r.swept)],
    ]),
  ];
  if (r.resources) lines.push('', `Resources: ${seconds(r.resources.cpuMs)} of CPU in ${seconds(r.resources.ms)}; peak memory of this process ${mib(r.resources.peakRssBytes)} (resident set)`);
  if (r.refused.length > 0) {
    lines.push('', `Refused rows${c.refused > r.refused.length ? ` (first ${r.refused.length})` : ''}:`, columns(r.refused.map((x) => [x.table, x.key, x.code, x.message])));
  }
  if (r.complete) lines.push('', 'Next: enclave migrate verify');
  return lines.join('\n');
}

/** What verify prints before its mismatches (the summary, the tables and the root), then their heading, if any. */
export function describeVerificationHead(v: VerificationInfo): string {
  const anyErased = erased(v.tables);
  const lines = [
    v.ok
      ? `Verification ${v.id} of "${v.migration}": the copy matches. Every migrating row and its record have equal digests; the Merkle roots agree.`
      : `Verification ${v.id} of "${v.migration}": ${count(v.mismatches)} mismatch(es).`,
    '',
    table(
      ['TABLE', 'ROWS', ...(anyErased ? ['OF ERASED SUBJECTS'] : []), 'RECORDS', 'SOURCE ROOT', 'DESTINATION ROOT', 'MISMATCHES'],
      v.tables.map((t) => [t.table, t.rows, ...(anyErased ? [t.erased] : []), t.records, t.sourceRoot.slice(0, 16), t.destinationRoot.slice(0, 16), t.mismatches]),
    ),
    ...(anyErased ? ['', ERASED_NOTE, 'The destination roots are over the records of the other rows.'] : []),
    '',
    `Root over the tables: ${v.root}`,
    '',
    v.mismatches > 0 ? 'Mismatches (table, key, kind, detail):' : 'Next: enclave migrate purge',
  ];
  return lines.join('\n');
}

/** Mismatches as lines (a page of them: verify prints them as they are read, aligned page by page). */
export function describeMismatches(mismatches: readonly Mismatch[]): string {
  return columns(mismatches.map((m) => [m.table, keyText(m.key), m.kind, m.detail]));
}

/** A refused row is not copied by running again: its data (or its subject's residency) must change first. */
export const needsFix = (m: Pick<Mismatch, 'kind'>) => m.kind === 'refused' || m.kind === 'moved';

/** What verify prints after its mismatches: what to do about those of each sort listed. */
export function describeVerificationTail(listed: { readonly copyAgain: boolean; readonly fix: boolean }): string {
  const lines: string[] = [];
  if (listed.copyAgain) lines.push('', 'Run `enclave migrate run` to copy the changed, missing and extra rows again, then verify.');
  if (listed.fix) lines.push('', 'Refused rows, and rows of subjects who moved, are not copied by running again: fix the row at the source (the detail says what the vault refused), or re-home the subject, then run and verify.');
  return lines.join('\n');
}

/** The whole of what verify prints for people, with its mismatches held in memory (tests, small lists). */
export function describeVerification(v: VerificationInfo, mismatches: readonly Mismatch[]): string {
  const parts = [describeVerificationHead(v)];
  if (mismatches.length > 0) parts.push(describeMismatches(mismatches));
  const tail = describeVerificationTail({ copyAgain: mismatches.some((m) => !needsFix(m)), fix: mismatches.some(needsFix) });
  if (tail !== '') parts.push(tail);
  return parts.join('\n');
}

/** Rows of erased subjects: in every table of verify, purge and the certificate once any table has some. */
const ERASED_NOTE = 'Rows of erased subjects have no record to compare: the erasure destroyed their copies in the vault. They are deleted at the source with the rest.';
const erased = (tables: readonly { readonly erased: number }[]) => tables.some((t) => t.erased > 0);

export function describePurge(p: PurgeReport, check: CertificateCheck): string {
  const c = check.certificate;
  const anyErased = erased(p.tables);
  return [
    `Purged migration "${p.migration}" at ${c.source.kind}:${c.source.location}, bound to verification ${p.verification}.`,
    '',
    table(
      ['TABLE', 'PURGED', ...(anyErased ? ['OF ERASED SUBJECTS'] : []), 'PURGED ROOT', 'KEPT', 'KEPT ROOT BEFORE = AFTER'],
      p.tables.map((t) => [t.table, t.purged, ...(anyErased ? [t.erased] : []), t.purgedRoot.slice(0, 16), t.kept, t.keptBefore === t.keptAfter ? t.keptAfter.slice(0, 16) : 'DIFFER']),
    ),
    ...(anyErased ? ['', ERASED_NOTE] : []),
    '',
    `Method (${c.method.engine}):`,
    ...c.method.steps.map((s) => `  - ${s}`),
    'What the engine cannot guarantee:',
    ...c.method.limits.map((s) => `  - ${s}`),
    '',
    `Deletion certificate ${p.certificate.id}${p.certificate.logIndex === null ? '' : ` (transparency log entry ${p.certificate.logIndex}; the purge is entry ${String(p.logIndex)})`}`,
    `  show and verify it: enclave migrate certificate ${p.certificate.id}`,
  ].join('\n');
}

export function describeCertificate(check: CertificateCheck, vkey: string, logIndex: number | null | undefined): string {
  const c = check.certificate;
  const anyErased = c.tables.some((t) => (t.erased_rows ?? 0) > 0);
  return [
    `Deletion certificate ${check.id}`,
    columns([
      ['enclave', c.enclave],
      ['migration', c.migration],
      ['source', `${c.source.kind}:${c.source.location}${c.source.site === null ? '' : ` (site ${c.source.site})`}`],
      ['jurisdictions', c.jurisdictions.join(', ')],
      ['verification', `${c.verification.id} at ${c.verification.finished_at}`],
      ['purged', `${count(c.totals.purged_rows)} rows of ${count(c.totals.subjects)} subjects; ${count(c.totals.kept_rows)} rows of others kept, unchanged`],
      ['root', c.root],
      ['engine', c.method.engine],
      ['purged at', `${c.times.purge_committed_at} (scrubbed ${c.times.scrubbed_at})`],
      ...(logIndex === undefined ? [] : [['log entry', logIndex === null ? 'not appended (no transparency log in this build)' : String(logIndex)]]),
    ]),
    '',
    table(
      ['TABLE', 'PURGED', ...(anyErased ? ['OF ERASED SUBJECTS'] : []), 'PURGED ROOT', 'KEPT', 'KEPT ROOT'],
      c.tables.map((t) => [t.table, t.purged_rows, ...(anyErased ? [t.erased_rows ?? 0] : []), t.purged_root.slice(0, 16), t.kept_rows, t.kept_root_after.slice(0, 16)]),
    ),
    ...(anyErased ? ['', ERASED_NOTE] : []),
    '',
    `Verified offline with ${vkey}:`,
    ...check.checks.map((x) => `  ✓ ${x}`),
  ].join('\n');
}
