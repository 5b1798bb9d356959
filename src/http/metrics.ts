// Prometheus metrics (prom-client). Labels use the route pattern, never the URL: ids may identify people.
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Enclave } from '../services/enclave.ts';
import { presentedCertificate } from './https-server.ts';

export function installMetrics(app: FastifyInstance, enclave: Enclave): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'enclave_process_' });
  const requests = new Counter({
    name: 'enclave_http_requests_total',
    help: 'HTTP requests by route pattern, method and status.',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'enclave_http_request_duration_seconds',
    help: 'HTTP request duration by route pattern.',
    labelNames: ['route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  new Gauge({
    name: 'enclave_sealed',
    help: '1 while the enclave is sealed and serves no protected data.',
    registers: [registry],
    collect() {
      this.set(enclave.keyring.sealed ? 1 : 0);
    },
  });
  // An operator alerts on a certificate near its end (renew the files, then SIGHUP); only with server.tls.
  if (presentedCertificate(app.server) !== undefined) {
    new Gauge({
      name: 'enclave_tls_certificate_expiry_timestamp_seconds',
      help: 'When the TLS certificate the API presents now expires, in seconds since the Unix epoch.',
      registers: [registry],
      collect() {
        const leaf = presentedCertificate(app.server);
        this.set(leaf ? leaf.validToDate.getTime() / 1000 : Number.NaN);
      },
    });
  }
  // Break-glass uses nobody reviewed in time: an alert can watch this (issue 3 point 4). NaN while the
  // control store cannot be read: one gauge failing would otherwise fail the whole scrape (every other
  // metric, enclave_sealed too) exactly when the operator needs them.
  new Gauge({
    name: 'enclave_breakglass_overdue',
    help: 'Break-glass grants not reviewed by their deadline (NaN while the control store cannot be read).',
    registers: [registry],
    async collect() {
      this.set(await enclave.access.overdueBreakGlass().catch(() => Number.NaN));
    },
  });

  // The transparency log: an operator alerts on a checkpoint that stops advancing (sealed, below the
  // witness quorum, or failing). NaN until the first checkpoint or while the log store cannot be read.
  const checkpoint = async () => enclave.log.checkpoint().catch(() => null);
  new Gauge({
    name: 'enclave_log_checkpoint_size',
    help: 'Entries covered by the latest published checkpoint of the transparency log.',
    registers: [registry],
    async collect() {
      this.set((await checkpoint())?.size ?? Number.NaN);
    },
  });
  new Gauge({
    name: 'enclave_log_checkpoint_age_seconds',
    help: 'Seconds since the latest checkpoint of the transparency log was published.',
    registers: [registry],
    async collect() {
      const cp = await checkpoint();
      this.set(cp ? (Date.now() - cp.time) / 1000 : Number.NaN);
    },
  });
  // Several instances: exactly one integrates and signs. Alert when no instance reports 1 for a few
  // intervals, or when the recorded holder's heartbeat grows old (it died and nobody took over).
  new Gauge({
    name: 'enclave_log_sequencer',
    help: '1 while this instance holds the log sequencer lease (integrates and signs the transparency log), else 0.',
    labelNames: ['instance'] as const,
    registers: [registry],
    collect() {
      this.reset();
      this.set({ instance: enclave.log.instance }, enclave.log.isSequencer ? 1 : 0);
    },
  });
  new Gauge({
    name: 'enclave_log_sequencer_heartbeat_age_seconds',
    help: 'Seconds since the holder of the log sequencer lease last confirmed it (NaN if none ever held it or the log store cannot be read).',
    registers: [registry],
    async collect() {
      const lease = await enclave.log.sequencer().catch(() => undefined);
      this.set(lease ? lease.heartbeatAgeMs / 1000 : Number.NaN);
    },
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    duration.observe({ route }, reply.elapsedTime / 1000);
    done();
  });
  unrouted.set(app, (method, status) => requests.inc({ route: method === undefined ? 'unparsed' : 'unmatched', method: method ?? 'unknown', status: String(status) }));
  return registry;
}

/** Per server with metrics: counts an answer given without Fastify's hooks (error-handler.ts). */
const unrouted = new WeakMap<FastifyInstance, (method: string | undefined, status: number) => void>();

/**
 * Counts a refusal that no route's onResponse hook sees: a URL the router could not take, an Expect the
 * server cannot meet, or (method undefined) a request Node's parser refused. A server without metrics
 * (a witness) counts nothing.
 */
export function countUnrouted(app: FastifyInstance, method: string | undefined, status: number): void {
  unrouted.get(app)?.(method, status);
}
