// `enclave serve`: opens the stores from the configuration and serves the API. It starts sealed unless
// --dev-unseal reads the development unseal file, which it announces loudly on every start.
import { Option, type Command } from 'commander';
import type { CliContext } from '../context.ts';
import { configurationLine } from '../configuration-note.ts';
import type { Io } from '../io.ts';
import { configPathOf, examples, instanceName, LOG_LEVELS, portNumber, type LogLevel } from '../options.ts';
import { usageError } from '../fail.ts';
import { Output } from '../output.ts';
import { trustCaFileForWitnesses } from '../tls-client.ts';
import { withHangups, type Hangups } from '../tls-reload.ts';

interface ServeOptions {
  readonly devUnseal?: boolean;
  readonly host?: string;
  readonly port?: number;
  readonly instance?: string;
  readonly logLevel: LogLevel;
}

export function registerServe(program: Command, { io }: CliContext): void {
  program
    .command('serve')
    .summary('serve the API (starts sealed)')
    .description(
      'Serves the HTTP API of the enclave described by the configuration. It starts SEALED: no protected data is served until the threshold of officers have entered their shares with `enclave unseal`. Requests are logged as JSON lines on stdout (method, URL, status, time; never headers or bodies); if the reader of stdout goes away, it keeps serving and says so on stderr. The process runs with the V8 heap limits of server.max_old_space_mb and server.max_semi_space_mb (it restarts itself, same pid, with Node\'s flags unless they were given, and, on glibc, with MALLOC_ARENA_MAX=2 unless the environment sets it). With server.tls it serves HTTPS and SIGHUP reads the certificate and key again (a renewal without a restart); without it SIGHUP is noted on stderr, and it never ends the server. Witnesses at https:// URLs are verified against the system\'s CAs and those of --ca-file (ENCLAVE_CA_FILE); no client certificate is presented to them. SIGINT (Ctrl-C) or SIGTERM closes the server and the stores.',
    )
    .option('--host <host>', 'address to listen on (default: server.host of the configuration)')
    .option('-p, --port <port>', 'port to listen on; 0 picks a free one (default: server.port of the configuration)', portNumber)
    .option('--instance <name>', 'this instance\'s name when several serve one PostgreSQL database (shown in /healthz and /metrics; default: host:pid)', instanceName)
    .option('--dev-unseal', 'unseal at start from the development file written by `init --dev` (never in production)')
    .addOption(new Option('--log-level <level>', 'request log level').choices(LOG_LEVELS).default('info'))
    .addHelpText(
      'after',
      examples(
        'enclave serve --config ./prod/enclave.yaml',
        'enclave serve --port 0                 # any free port; the address is printed',
        'enclave serve --dev-unseal             # development only',
        'enclave serve --instance api-2         # one of several instances on one PostgreSQL database',
      ),
    )
    .action(async (opts: ServeOptions, cmd: Command) => {
      await serve(io, configPathOf(cmd), opts, cmd);
    });
}

async function serve(io: Io, configPath: string, opts: ServeOptions, cmd: Command): Promise<void> {
  // Only the CLI's own requests present one (tls-client.ts): given here, it would be presented to no one.
  if (cmd.getOptionValueSourceWithGlobals('clientCert') === 'cli' || cmd.getOptionValueSourceWithGlobals('clientKey') === 'cli') {
    throw usageError('--client-cert and --client-key are for the CLI\'s requests to an Enclave server; `enclave serve` presents no client certificate to its witnesses (third parties): remove them');
  }
  const out = new Output(io);
  // First of all: from here on a SIGHUP never ends the server (tls-reload.ts), whatever start is doing.
  await withHangups(out, (hangups) => serveTaking(hangups, out, configPath, opts));
}

async function serveTaking(hangups: Hangups, out: Output, configPath: string, opts: ServeOptions): Promise<void> {
  // The configuration and the heap-limit restart before anything else is loaded: the process replaced
  // loads no more than they need, and the one replacing it takes SIGHUP as early (heap-limits.ts).
  const { loadConfig } = await import('../../services/config-loader.ts');
  const { applyHeapLimits, heapFlags, heapLimitMb, serverEnv } = await import('../heap-limits.ts');
  const config = loadConfig(configPath);
  // Told before the restart, which forgets a SIGHUP taken (with TLS the files are read after it anyway).
  if (config.server.tls === undefined) hangups.nothingToReload('the configuration has no server.tls');
  // Before anything is opened: this may replace the process with one started with the heap flags.
  applyHeapLimits(heapFlags(config.server), 'the server', (m) => out.note(m), serverEnv());
  const { openLocalEnclave } = await import('../local-enclave.ts');
  const { exposureWarning, startServer, untilSignal } = await import('../serve-runner.ts');
  const { keepServingWhenStdoutCloses } = await import('../broken-pipe.ts');
  const { devUnseal, warnIfDevFileLeft } = await import('../dev-unseal.ts');
  // Before any store opens: a bad certificate or key fails the start in one line.
  const { configTlsNames, describeCertificate, readTlsCredentials } = await import('../../http/tls-credentials.ts');
  const tlsConfig = config.server.tls;
  const readTls = tlsConfig === undefined ? undefined : () => readTlsCredentials(tlsConfig, configTlsNames(configPath));
  const tls = readTls?.();
  if (readTls !== undefined) hangups.reloadWith(readTls, describeCertificate);
  // The witnesses are this server's only requests: --ca-file (ENCLAVE_CA_FILE) is read for https:// ones.
  if (config.log.witnesses.some((w) => /^https:/i.test(w.url))) trustCaFileForWitnesses();
  const enclave = await openLocalEnclave(configPath, opts.instance === undefined ? {} : { instance: opts.instance }, config);
  // Before the first line on stdout: a reader of it that goes away does not stop a server
  // (broken-pipe.ts); the operator is told on stderr.
  const stopKeeping = keepServingWhenStdoutCloses(() => out.note('stdout is closed (EPIPE): its lines and the request log are dropped from now on; still serving until SIGINT or SIGTERM'));
  try {
    if (opts.devUnseal === true) await devUnseal(enclave, out);
    const server = await startServer(enclave, {
      host: opts.host ?? enclave.config.server.host,
      port: opts.port ?? enclave.config.server.port,
      logLevel: opts.logLevel,
      ...(tls === undefined ? {} : { tls }),
    });
    // Once listening: a failure to start stays one line.
    if (opts.devUnseal !== true) warnIfDevFileLeft(enclave, out);
    const exposed = exposureWarning(server);
    if (exposed !== undefined) out.warn(exposed);
    const status = enclave.seal.status();
    // Before the line that says it is ready: a supervisor may stop it the moment it reads that line.
    const signalled = untilSignal();
    out.line(`Heap limit ${heapLimitMb()} MiB (V8)`);
    if (tls !== undefined) {
      for (const w of tls.warnings) out.warn(`Warning: ${w}`);
      const mutual = tlsConfig?.clientCaFile !== undefined;
      const clients = mutual ? `; clients must present a certificate a CA of ${tlsConfig.clientCaFile} issued` : '';
      out.line(`TLS ${tlsConfig?.minVersion ?? ''} or later: ${describeCertificate(tls.leaf)}${clients} (SIGHUP reloads the certificate and key${mutual ? ' and the client CAs' : ''})`);
    }
    out.line(`Listening on ${server.url} (enclave "${enclave.config.name}", ${status.sealed ? 'sealed' : 'unsealed'})`);
    if (status.sealed) {
      out.line(`Sealed: no protected data is served until ${status.threshold} of the ${status.shares} officers run \`enclave unseal --server ${server.url}\``);
      const changed = configurationLine(status.configuration_changed);
      if (changed !== undefined) out.line(changed);
    }
    // After the banner, which names the certificate read at start: a SIGHUP taken meanwhile reloads now.
    hangups.serving(server);
    const signal = await signalled;
    hangups.closing();
    out.note(`${signal}: closing the server and the stores`);
    await server.close();
  } finally {
    await enclave.close();
    stopKeeping();
  }
}
