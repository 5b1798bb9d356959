// What each gateway instance keeps in memory of the shared control store, kept in step with the other
// instances: the active grants (the decision point's index) and the active policy version. Every
// instance re-reads both once per interval (1 s by default), so a grant created or revoked, or a policy
// activated, through one instance holds on every other within about an interval (on the instance that
// made the change, at once). Both reads are small: the latest policy version, and the grants active now.
import type { AccessService } from './access-service.ts';
import type { ChangeService } from './change-service.ts';

export const SHARED_STATE_REFRESH_MS = 1000;

export class SharedStateRefresh {
  private readonly access: AccessService;
  private readonly changes: ChangeService;
  private readonly interval: number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(deps: { access: AccessService; changes: ChangeService; intervalMs?: number }) {
    this.access = deps.access;
    this.changes = deps.changes;
    this.interval = deps.intervalMs ?? SHARED_STATE_REFRESH_MS;
  }

  /** One refresh: the policy version first (grants are decided under it), then the grants. */
  async once(): Promise<void> {
    await this.changes.refresh();
    await this.access.refresh();
  }

  /** Refreshes every interval until stop(); a failure is reported and retried at the next one. */
  start(onError: (err: unknown) => void): void {
    if (this.timer !== null || this.stopped) return;
    const loop = () => {
      this.timer = setTimeout(() => {
        this.running = this.once()
          .catch(onError)
          .finally(() => {
            this.running = null;
            if (!this.stopped) loop();
          });
      }, this.interval);
      this.timer.unref();
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
