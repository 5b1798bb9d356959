// The demo's run: everything `enclave demo` does after parsing its options (see commands/demo.ts).
import { join } from 'node:path';
import { loadConfig } from '../../services/config-loader.ts';
import { openEnclave } from '../../services/enclave.ts';
import { initEnclave } from '../../services/init-service.ts';
import { devUnseal } from '../dev-unseal.ts';
import type { Io } from '../io.ts';
import { connectHost, type LogLevel } from '../options.ts';
import { displayPath, Output } from '../output.ts';
import { heapLimitMb } from '../heap-limits.ts';
import { checkListenable, exposureWarning, startServer, untilSignal } from '../serve-runner.ts';
import { prepareDemoDir } from './demo-dir.ts';
import { Population } from './population.ts';
import { issueDemoTokens, TOKENS_FILE, writeDemoTokens } from './principals.ts';
import { migrateLegacySites } from './migrate-legacy.ts';
import { describeMigration, describeScenario, describeTokens, exampleSubject, outsideUsers, tryIt, type SiteCount } from './summary.ts';

export interface DemoOptions {
  readonly users: number;
  readonly dir: string;
  readonly port: number;
  readonly host?: string;
  readonly seed: number;
  readonly serve: boolean;
  readonly quiet?: boolean;
  readonly logLevel: LogLevel;
}

export async function runDemo(io: Io, opts: DemoOptions): Promise<void> {
  const out = new Output(io);
  const dir = displayPath(opts.dir);
  const host = opts.host ?? '127.0.0.1';
  // Migrating takes a while: find out first whether the port is free.
  if (opts.serve) await checkListenable(host, opts.port);
  prepareDemoDir(opts.dir);
  const init = await initEnclave(opts.dir, { dev: true, name: 'enclave-demo', port: opts.port });
  const enclave = await openEnclave(loadConfig(init.configPath));
  try {
    const { config } = enclave;
    out.line(describeScenario(config, dir, opts.users, opts.seed));
    out.line();
    await devUnseal(enclave, out);

    const tokens = await issueDemoTokens(enclave);
    const tokensFile = join(init.dataDir, TOKENS_FILE);
    writeDemoTokens(tokensFile, tokens);

    const population = new Population(opts.seed, opts.users);
    const migration = await migrateLegacySites(io, enclave, population, opts.quiet === true);

    const sites: SiteCount[] = [];
    for (const j of config.jurisdictions.values()) {
      const store = j.homeSite === undefined ? undefined : enclave.sites.get(j.homeSite);
      if (!store || j.homeSite === undefined) continue;
      sites.push({
        jurisdiction: j.id,
        site: j.homeSite,
        operator: config.sites.get(j.homeSite)?.operator ?? '?',
        subjects: await store.subjects.count(),
        records: await store.records.count(),
      });
    }
    const records = new Map<string, number>();
    for (const s of migration.sites) for (const t of s.verification.tables) records.set(t.collection, (records.get(t.collection) ?? 0) + t.records);
    const outside = outsideUsers(population, config);
    out.line();
    out.line(describeMigration(migration, sites, outside, records));
    out.line();
    const first = migration.sites[0]?.purge.certificate.id ?? '<id>';
    out.line(`Verify a deletion certificate offline: enclave migrate certificate ${first} --config ${dir}/enclave.yaml`);
    out.line();
    out.line(describeTokens(tokens, displayPath(tokensFile)));
    out.line();

    const subject = exampleSubject(population, config);
    const outsideCountry = [...outside.keys()][0] ?? 'BR';
    if (!opts.serve) {
      // Port 0: `serve` listens where the system says, which it prints; no URL to give yet.
      const picked = config.server.port === 0;
      const url = `http://${connectHost(config.server.host)}:${picked ? '<port>' : config.server.port}`;
      out.line(`Not serving (--no-serve). Serve this enclave later with: enclave serve --config ${dir}/enclave.yaml --dev-unseal${picked ? ' (port 0: it prints the port it listens on; put that in place of <port> below)' : ''}`);
      out.line();
      out.line(tryIt(url, tokens, subject, outsideCountry));
      return;
    }
    const server = await startServer(enclave, { host, port: opts.port, logLevel: opts.logLevel });
    // As serve does: the demo's tokens, printed above, would open it to every machine that reaches this one.
    const exposed = exposureWarning(server);
    if (exposed !== undefined) out.warn(exposed);
    out.line(tryIt(server.url, tokens, subject, outsideCountry));
    out.line();
    out.line(`The tokens stay valid when you serve this enclave again: enclave serve --config ${dir}/enclave.yaml --dev-unseal`);
    // Before the line that says it is ready (serve.ts).
    const signalled = untilSignal();
    out.line(`Heap limit ${heapLimitMb()} MiB (V8)`);
    out.line(`Listening on ${server.url} (enclave "${config.name}", unsealed in development mode); press Ctrl-C to stop.`);
    const signal = await signalled;
    out.note(`${signal}: closing the server and the stores`);
    await server.close();
  } finally {
    await enclave.close();
  }
}
