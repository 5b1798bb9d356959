// `enclave witness init` and `enclave witness serve`: the trusted provider's witness (C2SP tlog-witness).
// Its directory holds the private key (witness.key, mode 0600) and its state (witness.db, SQLite): the
// latest checkpoint it cosigned per log, and the refused submissions kept as evidence.
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { EnclaveError } from '../../core/errors.ts';
// Only the option parser is loaded up front (core code only); the witness's store and server load when it runs.
import { parseLogOption } from '../../services/witness-service.ts';
import type { CliContext } from '../context.ts';
import { CliError, usageError } from '../fail.ts';
import type { Io } from '../io.ts';
import { LOG_LEVELS, MAX_KEY_FILE_BYTES, examples, portNumber, type LogLevel } from '../options.ts';
import { atUserPath, readBoundedText } from '../output-files.ts';
import { Output } from '../output.ts';
import { withHangups, type Hangups } from '../tls-reload.ts';

export const WITNESS_KEY_FILE = 'witness.key';
export const WITNESS_DB_FILE = 'witness.db';
const DEFAULT_PORT = 8710;

interface InitOptions {
  readonly dir: string;
  readonly name: string;
  readonly json?: boolean;
}

interface ServeOptions {
  readonly dir: string;
  readonly log: Map<string, string[]>;
  readonly host: string;
  readonly port: number;
  readonly logLevel: LogLevel;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
}

/** Accumulates --log <origin>=<vkey> options into origin → keys, refusing malformed keys as usage errors. */
function logOption(parse: (value: string, into: Map<string, string[]>) => Map<string, string[]>) {
  return (value: string, previous: Map<string, string[]> | undefined): Map<string, string[]> => {
    try {
      return parse(value, previous ?? new Map<string, string[]>());
    } catch (err) {
      throw new InvalidArgumentError(`expected <origin>=<log vkey>: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
}

export function registerWitness(program: Command, { io }: CliContext): void {
  const witness = program
    .command('witness')
    .summary("run a witness that cosigns the log's checkpoints (trusted provider)")
    .description(
      "A witness (C2SP tlog-witness) cosigns a log's checkpoints only when they are signed by the log and consistent with the last checkpoint it cosigned, so a log cannot show different histories to different people. The trusted provider runs one; the enclave is configured with its URL and verifier key.",
    )
    .addHelpText(
      'after',
      examples('enclave witness init --dir ./witness --name witness.provider.example/w1', 'enclave witness serve --dir ./witness --log "$(curl -s http://127.0.0.1:8700/log/vkey)" --port 8710'),
    );

  witness
    .command('init')
    .summary('create a witness key pair in a directory and print its verifier key')
    .requiredOption('--dir <dir>', 'the witness directory (created)')
    .option('--name <name>', 'the witness name, a schema-less URL by convention', 'enclave-witness')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', examples('enclave witness init --dir ./witness --name witness.provider.example/w1'))
    .action(async (opts: InitOptions) => {
      await init(io, opts);
    });

  witness
    .command('serve')
    .summary('serve POST /add-checkpoint for the given logs')
    .description(
      "Serves the tlog-witness add-checkpoint protocol for each --log. The state is durable in the directory's witness.db. With --tls-cert and --tls-key it serves HTTPS, and SIGHUP reads them again (a renewal without a restart); without them SIGHUP is noted on stderr, and it never ends the witness. SIGINT or SIGTERM stops it cleanly.",
    )
    .requiredOption('--dir <dir>', 'the witness directory (from `enclave witness init`)')
    .requiredOption('--log <origin=vkey>', "a log to cosign for: its origin and verifier key (repeatable; a bare vkey means origin = key name)", logOption(parseLogOption))
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('-p, --port <port>', 'port to listen on; 0 picks a free one', portNumber, DEFAULT_PORT)
    .addOption(new Option('--log-level <level>', 'request log level').choices(LOG_LEVELS).default('info'))
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM, then any intermediates); SIGHUP reads it and --tls-key again')
    .option('--tls-key <file>', 'the private key of --tls-cert (PEM, unencrypted)')
    .addHelpText(
      'after',
      examples(
        'enclave witness serve --dir ./witness --log "enclave.example/log=$(curl -s http://127.0.0.1:8700/log/vkey)"',
        'enclave witness serve --dir ./witness --log … --host 0.0.0.0 --tls-cert tls/witness.crt --tls-key tls/witness.key',
      ),
    )
    .action(async (opts: ServeOptions) => {
      const out = new Output(io);
      // First of all: from here on a SIGHUP never ends the witness (tls-reload.ts), whatever start is doing.
      await withHangups(out, (hangups) => serve(out, hangups, opts));
    });
}

async function init(io: Io, opts: InitOptions): Promise<void> {
  const { generateNoteKey, isValidKeyName } = await import('../../core/tlog/note.ts');
  const { SIG_TYPE_COSIGNATURE } = await import('../../core/tlog/cosignature.ts');
  const { makeDirectories, PathStepError } = await import('../../storage/private-files.ts');
  if (!isValidKeyName(opts.name)) throw usageError('--name must be non-empty, without spaces or +');
  const dir = resolve(opts.dir);
  const keyFile = join(dir, WITNESS_KEY_FILE);
  if (existsSync(keyFile)) throw new EnclaveError('already_initialized', `${keyFile} exists: this directory already holds a witness (its vkey is printed by \`enclave witness serve\`)`);
  const key = generateNoteKey(opts.name, SIG_TYPE_COSIGNATURE);
  atUserPath(`--dir ${opts.dir}`, () => {
    try {
      // One directory at a time: never hangs (Node's recursive mkdir loops for ever under /proc).
      makeDirectories(dir, 0o700);
    } catch (err) {
      throw err instanceof PathStepError ? usageError(`--dir ${opts.dir}: ${err.why}`) : err;
    }
    writeFileSync(keyFile, `${key.skey}\n`, { mode: 0o600, flag: 'wx' });
  });
  new Output(io, { json: opts.json === true }).result({ name: opts.name, vkey: key.vkey, dir }, (r) =>
    [`witness ${r.name} initialized in ${r.dir}`, `verifier key (give it to the log and to verifiers):`, r.vkey].join('\n'),
  );
}

async function serve(out: Output, hangups: Hangups, opts: ServeOptions): Promise<void> {
  const { cosignerFromKey } = await import('../../core/tlog/cosignature.ts');
  const { WitnessService } = await import('../../services/witness-service.ts');
  const { SqliteWitnessStore } = await import('../../storage/sqlite/sqlite-witness-store.ts');
  const { buildWitnessServer } = await import('../../http/witness-server.ts');
  const { untilSignal } = await import('../serve-runner.ts');
  const { connectHost } = await import('../options.ts');
  const { describeCertificate, readTlsCredentials } = await import('../../http/tls-credentials.ts');
  const { httpsListenText, replaceCertificate } = await import('../../http/https-server.ts');
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw usageError('--tls-cert and --tls-key go together: give both, or neither for plain HTTP');
  // Checked before anything opens, as `enclave serve` checks server.tls.
  const tlsFiles = opts.tlsCert === undefined || opts.tlsKey === undefined ? undefined : { certFile: resolve(opts.tlsCert), keyFile: resolve(opts.tlsKey), minVersion: 'TLSv1.2' as const };
  const readTls = tlsFiles === undefined ? undefined : () => readTlsCredentials(tlsFiles, { cert_file: '--tls-cert', key_file: '--tls-key', code: 'invalid_argument' });
  const tls = readTls?.();
  if (readTls === undefined) hangups.nothingToReload('no --tls-cert was given');
  else hangups.reloadWith(readTls, describeCertificate);
  const dir = resolve(opts.dir);
  const keyFile = join(dir, WITNESS_KEY_FILE);
  if (!existsSync(keyFile)) throw new EnclaveError('not_initialized', `${keyFile} does not exist (run \`enclave witness init --dir ${opts.dir}\`)`);
  // Bounded as every key file (options.ts): a larger one (a wrong file put there) is not a key, and is not read further.
  const keyText = readBoundedText(keyFile, MAX_KEY_FILE_BYTES, {
    tooLarge: `${keyFile}: larger than ${MAX_KEY_FILE_BYTES / 1024} KiB, so not a witness key (one line, PRIVATE+KEY+name+id+base64, written by \`enclave witness init\`)`,
  });
  const cosigner = cosignerFromKey(keyText);
  const store = new SqliteWitnessStore(join(dir, WITNESS_DB_FILE));
  try {
    const app = await buildWitnessServer(new WitnessService({ store, cosigner, logs: opts.log }), {
      logger: { level: opts.logLevel, redact: { paths: ['req.headers.authorization'], censor: '[redacted]' } },
      ...(tls === undefined ? {} : { tls }),
    });
    try {
      await app.listen({
        host: opts.host,
        port: opts.port,
        ...(tls === undefined ? {} : { listenTextResolver: httpsListenText }),
      });
    } catch (err) {
      await app.close();
      throw new CliError('listen_failed', `cannot listen on ${opts.host}:${opts.port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
    const port = (app.server.address() as { port: number }).port;
    out.note(`witness ${cosigner.name}, verifier key ${cosigner.vkey}`);
    out.note(`cosigning for: ${[...opts.log.keys()].join(', ')}`);
    // Before the line that says it is ready (serve.ts).
    const signalled = untilSignal();
    if (tls !== undefined) {
      for (const w of tls.warnings) out.warn(`Warning: ${w}`);
      out.line(`TLS TLSv1.2 or later: ${describeCertificate(tls.leaf)} (SIGHUP reloads the certificate and key)`);
    }
    out.line(`Listening on ${tls === undefined ? 'http' : 'https'}://${connectHost(opts.host)}:${port}`);
    hangups.serving({ replaceTls: (c) => replaceCertificate(app.server, c) });
    await signalled;
    hangups.closing();
    await app.close();
  } finally {
    await store.close();
  }
}
