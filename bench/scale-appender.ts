// One "instance" of the scale-out benchmark's append test, in a process of its own (forked by scale.ts):
//   node bench/scale-appender.ts <log storage URL> <data dir> <instance> <integrate: 1|0> <seconds> <callers> <root hex>
// It opens the log's store and a LogService as `enclave serve` would (the one told to integrate also runs
// the integrator: sequencer lease, tiles, a signed checkpoint every second), reports "ready", starts on
// "go", keeps <callers> concurrent appends going for <seconds>, and reports what was acknowledged.
import { randomBytes } from 'node:crypto';
import { LogService } from '../src/services/log-service.ts';
import { openLogStore } from '../src/storage/open-store.ts';
import { countCommits } from './commit-counter.ts';
import { quantiles, type Quantiles } from './log-report.ts';

export interface AppenderResult {
  readonly instance: string;
  readonly appends: number;
  readonly seconds: number;
  readonly commits: number;
  readonly ackMs: Quantiles;
}

export type AppenderMessage = { readonly type: 'ready' } | { readonly type: 'done'; readonly result: AppenderResult } | { readonly type: 'failed'; readonly message: string };

function tell(m: AppenderMessage): void {
  process.send?.(m);
}

async function main(): Promise<void> {
  const [url, dataDir, instance, integrate, seconds, callers, rootHex] = process.argv.slice(2);
  if (url === undefined || dataDir === undefined || instance === undefined || rootHex === undefined) throw new Error('usage: scale-appender.ts <url> <dir> <instance> <1|0> <seconds> <callers> <root hex>');
  const { store, commits } = countCommits(await openLogStore(url, dataDir));
  const log = new LogService({ store, origin: 'bench.enclave/scale', instance, checkpointIntervalMs: 1000 });
  await log.unsealed(Buffer.from(rootHex, 'hex'));
  if (integrate === '1') log.start((err) => process.stderr.write(`${instance}: integrator: ${String(err)}\n`));
  const event = (i: number) => ({
    type: 'access.decision' as const,
    principal: { id: `service-${i % 8}`, org: 'platform', role: 'service' },
    subject: `u${String(i % 10_000).padStart(6, '0')}`,
    details: { action: 'record.read', allow: true, release: 'protected', policies: ['builtin/role-actions', 'builtin/role-reads'], collection: 'messages', records: 1, withheld: [] },
  });
  await new Promise<void>((resolve) => {
    process.once('message', () => resolve());
    tell({ type: 'ready' });
  });
  const ack: number[] = [];
  const started = performance.now();
  const end = started + Number(seconds) * 1000;
  const salt = randomBytes(4).readUInt32BE(0);
  let n = 0;
  const caller = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      await log.append(event(salt + n++));
      ack.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: Number(callers) }, caller));
  const elapsed = (performance.now() - started) / 1000;
  tell({ type: 'done', result: { instance, appends: ack.length, seconds: elapsed, commits: commits(), ackMs: quantiles(ack) } });
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  await log.close();
}

try {
  await main();
  process.disconnect?.();
} catch (err) {
  tell({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  process.exitCode = 1;
  process.disconnect?.();
}
