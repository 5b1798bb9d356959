// `enclave migrate plan|run|verify|purge|certificate`: moves a legacy site's data into the vault, proves
// the copy, deletes it at the source, and certifies the deletion. The work is in ../migrate/, loaded only
// when a subcommand runs, so `--help` stays fast.
import { Option, type Command } from 'commander';
import type { CliContext } from '../context.ts';
import { configPathOf, examples, integerIn } from '../options.ts';

export interface MigrateOptions {
  readonly mapping: string;
  readonly batchSize?: number;
  readonly devUnseal?: boolean;
  readonly org?: string;
  readonly role?: string;
  readonly json?: boolean;
  readonly quiet?: boolean;
  readonly verification?: string;
  readonly yes?: boolean;
}

export interface CertificateOptions {
  readonly out?: string;
  readonly file?: string;
  readonly key?: string;
  readonly publicKey?: boolean;
  readonly json?: boolean;
}

function common(cmd: Command, options: { keys: boolean; progress: boolean }): Command {
  cmd
    .requiredOption('-m, --mapping <file>', 'the migration mapping (YAML; see docs/migration.md)')
    .option('--batch-size <rows>', 'rows read and written per batch', integerIn(10, 100_000));
  if (options.keys) {
    cmd
      .option('--dev-unseal', 'unseal from the development file written by `init --dev` (otherwise the officers\' shares are read: prompted on a terminal, one per line when piped)')
      .option('--org <org>', 'org the migration acts as (default: the first platform service role allowed to migrate)')
      .option('--role <role>', 'role the migration acts as, in --org');
  }
  if (options.progress) cmd.option('-q, --quiet', 'no progress output');
  return cmd.option('--json', 'print the result as JSON');
}

export function registerMigrate(program: Command, { io }: CliContext): void {
  const migrate = program
    .command('migrate')
    .summary('move a legacy site\'s data in, prove the copy, purge the source, certify the deletion')
    .description(
      'Migration out of a legacy data center. A mapping file names the source (SQLite, PostgreSQL, MySQL/MariaDB or JSON Lines), which tables feed which collections, how each row finds its subject and how a subject\'s country is found. `plan` counts what would move where; `run` copies through the vault in resumable batches; `verify` compares digests and Merkle roots of both sides; `purge` deletes the verified rows at the source and issues a signed deletion certificate; `certificate` prints and verifies one. These commands open the stores named by the configuration directly.',
    )
    .addHelpText(
      'after',
      examples(
        'enclave migrate plan --mapping virginia.yaml',
        'enclave migrate run --mapping virginia.yaml < officer-shares.txt',
        'enclave migrate verify --mapping virginia.yaml --dev-unseal',
        'enclave migrate purge --mapping virginia.yaml --dev-unseal --yes',
        'enclave migrate certificate dc-3f1a9c0b2d4e5f60718293a4',
        'enclave migrate certificate --file cert.note --key "enclave/prod/deletion-certificates+1a2b3c4d+AR0g…"',
      ),
    );

  const action = <O>(name: 'plan' | 'run' | 'verify' | 'purge') => async (opts: O, cmd: Command) => {
    // Before anything is read or opened: this may replace the process (same pid and arguments); not
    // when the CLI runs inside another program on streams of its own (a test), whose process it is not.
    if (io.stdin === process.stdin) {
      const { applyHeapLimits, MIGRATION_MAIN_FLAGS } = await import('../heap-limits.ts');
      const { Output } = await import('../output.ts');
      applyHeapLimits(MIGRATION_MAIN_FLAGS, 'the migration', (m) => new Output(io).note(m));
    }
    const actions = await import('../migrate/migrate-actions.ts');
    await actions[name](io, configPathOf(cmd), opts as MigrateOptions);
  };

  common(migrate.command('plan').summary('count what would move where; changes no data'), { keys: false, progress: true })
    .description(
      'Checks the mapping against the live source schema and the configuration, then reads every mapped table and counts, per table, the rows that would move to each jurisdiction\'s home site, the rows that stay (and why) and the rows that would be refused. It writes nothing to the source, the vault, the transparency log or any migration\'s state; only the migration state store (migration.state, by default migration-state.db in the data directory) is created, empty, if it does not exist yet.',
    )
    .addHelpText('after', examples('enclave migrate plan --mapping virginia.yaml', 'enclave migrate plan --mapping virginia.yaml --json | jq .tables'))
    .action(action('plan'));

  common(migrate.command('run').summary('copy the source into the vault (resumable)'), { keys: true, progress: true })
    .description(
      'One pass over the source: the tables are cut into key ranges, each range is read in key order, mapped, and written through the vault (residency, classification and sealing as any write); rows already copied and unchanged are skipped, changed ones copied again, and records whose source rows are gone are removed. Killed at any moment (even SIGKILL), running it again finishes the pass with the same result. Progress: a bar on a terminal, JSON lines on stderr otherwise.',
    )
    .addHelpText(
      'after',
      examples(
        'enclave migrate run --mapping virginia.yaml < officer-shares.txt   # k shares, one per line',
        'enclave migrate run --mapping virginia.yaml                       # on a terminal: officers type their shares',
        'enclave migrate run --mapping virginia.yaml --dev-unseal --batch-size 5000',
      ),
    )
    .action(action('run'));

  common(migrate.command('verify').summary('prove the copy: digests and Merkle roots of both sides'), { keys: true, progress: true })
    .description(
      'Reads every migrating source row and the record it became (decrypted through the vault), digests both in canonical form and folds them into RFC 9162 Merkle roots per table. Lists every mismatch by table and key and exits non-zero if there is one; mismatched rows are copied again by the next run.',
    )
    .addHelpText('after', examples('enclave migrate verify --mapping virginia.yaml < officer-shares.txt', 'enclave migrate verify --mapping virginia.yaml --dev-unseal --json'))
    .action(action('verify'));

  common(migrate.command('purge').summary('delete the verified rows at the source; issue a deletion certificate'), { keys: true, progress: true })
    .option('--verification <id>', 'the verification to purge by (default: the latest; it must be the latest and successful)')
    .option('-y, --yes', 'do not ask for confirmation (required when not on a terminal)')
    .description(
      'Deletes at the source exactly the rows the latest successful verification covered, in one transaction that locks out writers: their Merkle root must equal the verified one, and afterwards the rows that remain must be exactly the rows of subjects who stay (same digests before and after), or nothing is deleted. Then the engine scrubs its files (SQLite: secure_delete, WAL checkpoint, VACUUM; PostgreSQL: VACUUM FULL; MySQL: OPTIMIZE TABLE), and a deletion certificate is signed and printed.',
    )
    .addHelpText('after', examples('enclave migrate purge --mapping virginia.yaml              # asks for confirmation', 'enclave migrate purge --mapping virginia.yaml --yes < officer-shares.txt'))
    .action(action('purge'));

  migrate
    .command('certificate')
    .summary('print a deletion certificate and verify it offline')
    .argument('[id]', 'certificate id (dc-…); without one, the certificates issued are listed')
    .option('--out <file>', 'also write the certificate (a signed note) to this file')
    .option('--file <file>', 'verify a certificate file instead, with --key: no enclave needed')
    .addOption(new Option('--key <vkey>', 'the verifier key to check --file against (or @file to read it)'))
    .option('--public-key', 'print the enclave\'s certificate verifier key')
    .option('--json', 'print the result as JSON')
    .description(
      'Prints a deletion certificate and verifies it from the certificate and the verifier key alone: the Ed25519 signature over the signed note, its canonical form, and that its roots and counts agree. With --file and --key it verifies a certificate someone handed you, without any enclave.',
    )
    .addHelpText(
      'after',
      examples(
        'enclave migrate certificate                                  # the certificates issued',
        'enclave migrate certificate dc-3f1a9c0b2d4e5f60718293a4 --out virginia.cert',
        'enclave migrate certificate --public-key > certificates.vkey',
        'enclave migrate certificate --file virginia.cert --key @certificates.vkey   # anywhere, no enclave',
      ),
    )
    .action(async (id: string | undefined, opts: CertificateOptions, cmd: Command) => {
      const actions = await import('../migrate/migrate-actions.ts');
      await actions.certificate(io, configPathOf(cmd), id, opts);
    });
}
