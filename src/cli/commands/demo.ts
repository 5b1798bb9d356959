// `enclave demo` (`npm start`): the scenario of the product brief with synthetic people. Recreates its
// directory, initializes a development enclave (jurisdictions us and eu; legacy sites virginia and
// singapore), auto-unseals it loudly, issues a token to a principal of every org, builds the legacy
// sites and migrates them (run, verify, purge, certificates), prints where everything went, and serves
// the API until Ctrl-C.
import { Option, type Command } from 'commander';
import type { CliContext } from '../context.ts';
import type { DemoOptions } from '../demo/run-demo.ts';
import { examples, integerIn, LOG_LEVELS, portNumber } from '../options.ts';

export function registerDemo(program: Command, { io }: CliContext): void {
  program
    .command('demo')
    .summary('run the scenario of the brief with synthetic people (`npm start`)')
    .description(
      `The scenario of the product brief, on the embedded store. (Re)creates DIR (only one the demo created itself), initializes a development enclave whose jurisdictions are us (home: the trusted provider's US site) and eu, auto-unseals it, and issues a token to a demo principal of every org. It then builds the parent company's legacy data centers "virginia" and "singapore" as SQLite databases in the old application's schema, holding a deterministic global user base (accounts, private messages, devices, watch history, public videos and comments), and migrates each exactly as \`enclave migrate\` does: plan, copy through the vault, verify, purge at the source, deletion certificate. Users whose country is in no jurisdiction stay at the legacy sites, untouched. It prints a summary, the certificate ids, the tokens (also written to DIR/data/demo-tokens.json) and requests to try, then serves the API until Ctrl-C.`,
    )
    .option('-n, --users <n>', 'how many synthetic users', integerIn(1, 1_000_000), 10_000)
    .option('-d, --dir <dir>', 'demo directory (wiped and recreated)', '.enclave-demo')
    .option('-p, --port <port>', 'port to serve on; 0 picks a free one', portNumber, 8700)
    .option('--host <host>', 'address to serve on (default: 127.0.0.1)')
    .option('--seed <n>', 'seed of the synthetic population', integerIn(0, 2 ** 32 - 1), 1)
    .option('--no-serve', 'stop after seeding instead of serving the API')
    .option('-q, --quiet', 'no progress output')
    .addOption(new Option('--log-level <level>', 'request log level while serving').choices(LOG_LEVELS).default('warn'))
    .addHelpText(
      'after',
      examples('npm start', 'enclave demo --users 100000 --port 8800', 'enclave demo --users 200 --dir /tmp/enclave-demo --no-serve'),
    )
    .action(async (opts: DemoOptions) => {
      // Before anything is created: the demo's server runs with the heap limits `enclave serve` takes from
      // the starter configuration the demo writes (this may replace the process, same pid and arguments).
      const { applyHeapLimits, heapFlags, serverEnv } = await import('../heap-limits.ts');
      const { DEFAULTS } = await import('../../core/config.ts');
      const { Output } = await import('../output.ts');
      applyHeapLimits(heapFlags(DEFAULTS), 'the demo', (m) => new Output(io).note(m), serverEnv());
      const { runDemo } = await import('../demo/run-demo.ts');
      await runDemo(io, opts);
    });
}
