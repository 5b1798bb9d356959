// TEMPORARY: a stand-in for the durable transparency log (issue 4), which is being built on another
// branch and replaces this file. It keeps the events in memory so the gatekeeper's services can append
// their lifecycle events through the EventLog port now, and tests can see what was appended. It is not
// durable and does not fail closed; do not rely on it for anything but tests and the demo.
import type { EventLog, LogEventInput, LogReceipt } from '../core/event-log.ts';

export class PendingEventLog implements EventLog {
  private readonly events: LogEventInput[] = [];

  append(event: LogEventInput): Promise<LogReceipt> {
    this.events.push(event);
    return Promise.resolve({ index: this.events.length - 1 });
  }

  /** What was appended so far, oldest first. */
  entries(): readonly LogEventInput[] {
    return this.events;
  }
}
