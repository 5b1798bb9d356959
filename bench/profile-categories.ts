// Groups a CPU profile's functions into the layers a gated read passes through, so the report can say
// which layer dominates.
import type { HotSpot } from './profile-summary.ts';

const RULES: readonly [string, (h: HotSpot) => boolean][] = [
  ['garbage collection', (h) => h.name === '(garbage collector)'],
  ['AES-GCM and keys (node:crypto, src/crypto, keyring)', (h) => h.where.startsWith('node:internal/crypto') || h.where.startsWith('src/crypto/') || h.where.startsWith('src/services/keyring')],
  ['SQLite store (node:sqlite calls, row mapping)', (h) => h.where.startsWith('src/storage/') || h.where.startsWith('node:sqlite')],
  ['enclave services and core (vault, router, decision, tokens)', (h) => h.where.startsWith('src/services/') || h.where.startsWith('src/core/')],
  ['enclave HTTP adapter (hooks, routes, errors)', (h) => h.where.startsWith('src/http/')],
  ['metrics (prom-client)', (h) => h.where.startsWith('prom-client/')],
  ['Fastify (routing, hooks, validation, serialization)', (h) => /^(fastify|@fastify|find-my-way|fast-json-stringify|avvio|light-my-request|ajv|fast-uri|json-schema-ref-resolver|toad-cache|abstract-logging|pino)/.test(h.where)],
  ['handing work to the log writer thread (postMessage)', (h) => h.where.startsWith('node:internal/worker')],
  ['Node HTTP, sockets and streams', (h) => /^node:(_http|http|net|internal\/(http|streams|stream_base|net|url|timers|process|async_hooks|event_target)|events|stream)/.test(h.where)],
  ['V8 (compiled code bookkeeping, builtins without a caller)', (h) => h.where === '(native)'],
];

export interface Category {
  readonly name: string;
  readonly selfPercent: number;
}

export function categorize(hotSpots: readonly HotSpot[]): Category[] {
  const totals = new Map<string, number>();
  for (const spot of hotSpots) {
    // A native function counts where its JavaScript caller belongs.
    const h = spot.calledFrom === undefined ? spot : { ...spot, where: spot.calledFrom };
    const name = RULES.find(([, test]) => test(h))?.[0] ?? 'other JavaScript';
    totals.set(name, (totals.get(name) ?? 0) + h.selfPercent);
  }
  return [...totals].map(([name, selfPercent]) => ({ name, selfPercent })).sort((a, b) => b.selfPercent - a.selfPercent);
}
