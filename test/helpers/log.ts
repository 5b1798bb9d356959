// What the transparency log holds, for tests that check which events a service appended: integrate what
// is queued, then read every entry back through the log's own search.
import type { LogEventInput } from '../../src/core/event-log.ts';
import type { LogEntry } from '../../src/core/log-entry.ts';
import type { Enclave } from '../../src/services/enclave.ts';

export async function loggedEvents(enclave: Enclave): Promise<LogEntry[]> {
  await enclave.log.sync();
  const out: LogEntry[] = [];
  let after: number | undefined;
  for (;;) {
    const page = await enclave.log.search({ limit: 1000, ...(after === undefined ? {} : { after }) });
    out.push(...page.results.map((r) => r.entry));
    if (page.next === null) return out;
    after = page.next;
  }
}

/** The actor of the log tests' events. */
export const LOG_ACTOR = { id: 'officer-1', org: 'gatekeeper', role: 'officer' };

/** The `i`th access.decision event of the log tests (seven subjects in turn), with `over` on top. */
export const logEvent = (i: number, over: Partial<LogEventInput> = {}): LogEventInput => ({
  type: 'access.decision',
  principal: LOG_ACTOR,
  subject: `subject-${i % 7}`,
  details: { action: 'record.read', i },
  ...over,
});
