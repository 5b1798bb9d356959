// The demo's run: everything `enclave demo` does after parsing its options (see commands/demo.ts).
import { join } from 'node:path';
import { loadConfig } from '../../services/config-loader.ts';
import { openEnclave } from '../../services/enclave.ts';
import { initEnclave } from '../../services/init-service.ts';
import { devUnseal } from '../dev-unseal.ts';
import type { Io } from '../io.ts';
import { connectHost, type LogLevel } from '../options.ts';
import { displayPath, Output } from '../output.ts';
import { createProgress, progressMode } from '../progress.ts';
import { checkListenable, startServer, untilSignal } from '../serve-runner.ts';
import { prepareDemoDir } from './demo-dir.ts';
import { Population } from './population.ts';
import { issueDemoTokens, TOKENS_FILE, writeDemoTokens } from './principals.ts';
import { seedPopulation } from './seed.ts';
import { DEMO_SERVICE_PURPOSE, describeScenario, describeSeeding, describeTokens, exampleSubject, tryIt, type SiteCount } from './summary.ts';

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
  // Seeding takes a while: find out first whether the port is free.
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
    const app = tokens.find((t) => t.principal === 'app');
    if (!app) throw new Error('the demo principals lack the platform service');
    // The platform service acts only for a configured purpose: the demo's seeding states `account`.
    const seeder = { ...(await enclave.tokens.authenticate(app.token)), purpose: DEMO_SERVICE_PURPOSE };

    const population = new Population(opts.seed, opts.users);
    const progress = createProgress(io, progressMode(io, opts.quiet === true), { task: 'seeding', total: opts.users, unit: 'users', extras: ['records'] });
    const report = await seedPopulation(enclave, seeder, population, progress);

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
    out.line();
    out.line(describeSeeding(report, sites));
    out.line();
    out.line(describeTokens(tokens, displayPath(tokensFile)));
    out.line();

    const subject = exampleSubject(population, config);
    const outsideCountry = [...report.outside.countries.keys()][0] ?? 'BR';
    if (!opts.serve) {
      const url = `http://${connectHost(config.server.host)}:${config.server.port}`;
      out.line(`Not serving (--no-serve). Serve this enclave later with: enclave serve --config ${dir}/enclave.yaml --dev-unseal`);
      out.line();
      out.line(tryIt(url, tokens, subject, outsideCountry));
      return;
    }
    const server = await startServer(enclave, { host, port: opts.port, logLevel: opts.logLevel });
    out.line(tryIt(server.url, tokens, subject, outsideCountry));
    out.line();
    out.line(`The tokens stay valid when you serve this enclave again: enclave serve --config ${dir}/enclave.yaml --dev-unseal`);
    out.line(`Listening on ${server.url} (enclave "${config.name}", unsealed in development mode); press Ctrl-C to stop.`);
    const signal = await untilSignal();
    out.note(`${signal}: closing the server and the stores`);
    await server.close();
  } finally {
    await enclave.close();
  }
}
