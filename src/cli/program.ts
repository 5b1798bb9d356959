// The `enclave` command line: one commander program, one file per command under commands/. Parsing
// errors and command failures all end in fail.ts as one line on stderr and an exit code.
import { Command } from 'commander';
import pkg from '../../package.json' with { type: 'json' };
import { answersHandedOver, misshapenAnswer } from './api-client.ts';
import { registerAccess } from './commands/access.ts';
import { registerDemo } from './commands/demo.ts';
import { registerErase } from './commands/erase.ts';
import { registerInit } from './commands/init.ts';
import { registerPolicy } from './commands/policy.ts';
import { registerLog } from './commands/log.ts';
import { registerLogSearch } from './commands/log-search.ts';
import { registerMigrate } from './commands/migrate.ts';
import { registerOfficer } from './commands/officer.ts';
import { registerRecord } from './commands/record.ts';
import { registerRekey } from './commands/rekey.ts';
import { registerSeal } from './commands/seal.ts';
import { registerServe } from './commands/serve.ts';
import { registerSubject } from './commands/subject.ts';
import { registerToken } from './commands/token.ts';
import { registerUnseal } from './commands/unseal.ts';
import { registerWitness } from './commands/witness.ts';
import type { CliContext } from './context.ts';
import { EXIT_OK, reportFailure } from './fail.ts';
import type { Io } from './io.ts';
import { caFileOption, clientCertOption, clientKeyOption, configOption, examples } from './options.ts';
import { configureTlsClient, type TlsClientOptions } from './tls-client.ts';

export function buildProgram(io: Io): Command {
  const program = new Command('enclave')
    .description('Enclave: residency-bound, encrypted, gatekept storage of personal data.')
    .version(pkg.version, '-V, --version', 'print the version')
    .addOption(configOption())
    .addOption(caFileOption())
    .addOption(clientCertOption())
    .addOption(clientKeyOption())
    // Before any command talks to a server (the API, a log, a witness).
    .hook('preAction', (_root, command) => configureTlsClient(command.optsWithGlobals<TlsClientOptions>()))
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // Errors are printed once, by fail.ts, as `enclave: <code>: <message>`.
      outputError: () => {},
    })
    .configureHelp({ showGlobalOptions: true })
    .helpCommand(false)
    .addHelpText(
      'after',
      examples(
        'npm start                                  # the demo: synthetic users, tokens, a running API',
        'enclave init --dir ./prod --officers alice,bob,carol --threshold 2',
        'enclave serve --config ./prod/enclave.yaml',
        'enclave unseal                             # each officer, with their share',
        'enclave <command> --help                   # details and examples of one command',
      ),
    );
  const ctx: CliContext = { io };
  registerInit(program, ctx);
  registerServe(program, ctx);
  registerUnseal(program, ctx);
  registerSeal(program, ctx);
  registerRekey(program, ctx);
  registerOfficer(program, ctx);
  registerToken(program, ctx);
  registerSubject(program, ctx);
  registerRecord(program, ctx);
  registerErase(program, ctx);
  registerAccess(program, ctx);
  registerPolicy(program, ctx);
  registerMigrate(program, ctx);
  registerDemo(program, ctx);
  registerLogSearch(registerLog(program, ctx), ctx);
  registerWitness(program, ctx);
  return program;
}

/** Runs the CLI on `argv` (without node and the script) and returns the exit code. */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  const program = buildProgram(io);
  const answers = answersHandedOver();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (err) {
    return reportFailure(misshapenAnswer(err, answers), (line) => io.stderr.write(line));
  }
}
