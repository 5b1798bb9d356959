// Options shared by several commands: the configuration file (global), the server and token of client
// commands, and argument parsers that reject bad values as usage errors (exit 2). Like every module a
// command loads up front, it stays light: the stores, the HTTP server and the configuration schema are
// imported when a command runs, so `--help` and client commands start fast.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { ID_PATTERN, PROPOSAL_ID_PATTERN, RECORD_ID_PATTERN, REQUEST_ID_PATTERN, TOKEN_ID_PATTERN } from '../core/api-ids.ts';
import { parseDuration } from '../core/duration.ts';
import { ApiClient } from './api-client.ts';
import { readBoundedText } from './output-files.ts';

export const DEFAULT_CONFIG = 'enclave.yaml';
export const FALLBACK_SERVER = 'http://127.0.0.1:8700';

interface GlobalOptions {
  readonly config?: string;
  readonly server?: string;
  readonly token?: string;
  readonly purpose?: string;
}

export function configOption(): Option {
  return new Option('-c, --config <path>', 'configuration file').env('ENCLAVE_CONFIG').default(DEFAULT_CONFIG);
}

export function caFileOption(): Option {
  return new Option('--ca-file <path>', 'CA certificates (PEM) to trust for an https:// server, besides the system\'s').env('ENCLAVE_CA_FILE');
}

export function clientCertOption(): Option {
  return new Option('--client-cert <path>', 'a client certificate (PEM) for an https:// server that requires one (server.tls.client_ca_file); with --client-key').env('ENCLAVE_CLIENT_CERT');
}

export function clientKeyOption(): Option {
  return new Option('--client-key <path>', 'the private key of --client-cert (PEM, unencrypted)').env('ENCLAVE_CLIENT_KEY');
}

export function configPathOf(cmd: Command): string {
  return cmd.optsWithGlobals<GlobalOptions>().config ?? DEFAULT_CONFIG;
}

/** --server and --token, for commands that talk to a running server. */
export function addClientOptions(cmd: Command, options: { token?: boolean } = {}): Command {
  cmd.addOption(
    new Option('-s, --server <url>', `server URL, http:// or https:// (default: the configuration's server.host and server.port, over https:// with server.tls, else ${FALLBACK_SERVER})`).env('ENCLAVE_SERVER'),
  );
  if (options.token !== false) {
    cmd.addOption(new Option('-t, --token <token>', 'bearer token (prefer the environment variable: arguments are visible to other users)').env('ENCLAVE_TOKEN'));
    cmd.addOption(new Option('--purpose <purpose>', 'the purpose the request is made for (sent as Enclave-Purpose; services must state one, grants cover one)').env('ENCLAVE_PURPOSE'));
  }
  return cmd;
}

/**
 * The server URL: --server / ENCLAVE_SERVER, else the configuration's address, else (no --config, no
 * ENCLAVE_CONFIG, no enclave.yaml here) the fallback. A configuration that is there but does not load
 * is an error: its server may be anywhere, and the token must not go to whatever listens on the usual port.
 */
export async function serverUrlOf(cmd: Command): Promise<string> {
  const explicit = cmd.optsWithGlobals<GlobalOptions>().server;
  if (explicit !== undefined && explicit !== '') return explicit;
  // An empty ENCLAVE_CONFIG counts as unset, as an empty ENCLAVE_SERVER does.
  const given = cmd.getOptionValueSourceWithGlobals('config') !== 'default' && configPathOf(cmd) !== '';
  const path = given ? configPathOf(cmd) : DEFAULT_CONFIG;
  if (!given && !existsSync(path)) return FALLBACK_SERVER;
  const { loadConfig } = await import('../services/config-loader.ts');
  const { host, port, tls } = loadConfig(path).server;
  return `${tls === undefined ? 'http' : 'https'}://${connectHost(host)}:${port}`;
}

/** The address to connect to for a listening host: wildcard addresses become loopback. */
export function connectHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export async function clientOf(cmd: Command): Promise<ApiClient> {
  const opts = cmd.optsWithGlobals<GlobalOptions>();
  return new ApiClient(await serverUrlOf(cmd), opts.token, opts.purpose);
}

/** A duration such as 90s, 15m, 8h or 2d, as whole seconds. */
export function durationSeconds(value: string): number {
  const ms = parseDuration(value.trim());
  if (ms === undefined) throw new InvalidArgumentError('expected a duration such as 90s, 15m, 8h or 2d');
  return ms / 1000;
}

/** A repeatable option: each use adds to the list. */
export function collect(value: string, previous: readonly string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

// ---- argument parsers (commander calls them; InvalidArgumentError becomes a usage error) ----------

export function integerIn(min: number, max: number): (value: string) => number {
  return (value: string) => {
    if (!/^[0-9]+$/.test(value.trim())) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    const n = Number(value.trim());
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return n;
  };
}

export const portNumber = integerIn(0, 65535);

/** An argument or option value that must match the API's pattern: refused here as a usage error (exit 2), not by the server. */
export function matching(pattern: string, what: string): (value: string) => string {
  const re = new RegExp(pattern);
  return (value: string) => {
    if (!re.test(value)) throw new InvalidArgumentError(`expected ${what}`);
    return value;
  };
}

/** Ids as the configuration writes them (orgs, roles, principals). */
export const configId = matching(ID_PATTERN, 'lower case letters, digits, - and _, starting with a letter (at most 63)');

/** Record and subject ids. */
export const recordId = matching(RECORD_ID_PATTERN, 'an id of letters, digits and . _ : -, starting with a letter or digit (at most 128)');
export const requestId = matching(REQUEST_ID_PATTERN, 'a request id: req_ or bg_ and 12 characters');
export const proposalId = matching(PROPOSAL_ID_PATTERN, 'a proposal id: prop_ and 12 characters');
export const tokenId = matching(TOKEN_ID_PATTERN, 'a token id: tok_ and 12 characters');

export function countryCode(value: string): string {
  const c = value.trim().toUpperCase();
  if (!/^[A-Z]{2}$/.test(c)) throw new InvalidArgumentError('expected an ISO 3166-1 alpha-2 country code such as US or DE');
  return c;
}

/** An instance name: it is shown in /healthz and as a metrics label, so printable and short. */
export function instanceName(value: string): string {
  if (!/^[A-Za-z0-9._:-]{1,64}$/.test(value)) throw new InvalidArgumentError('expected 1 to 64 characters of A-Z a-z 0-9 . _ : -');
  return value;
}

/** A comma-separated list of distinct names (each one is checked where it is used). */
export function nameList(value: string): string[] {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (new Set(items).size !== items.length) throw new InvalidArgumentError('names must be unique');
  return items;
}

/** A help section with examples, appended after the options. */
export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => (l.startsWith('#') ? `  ${l}` : `  $ ${l}`)).join('\n')}\n`;
}

/** Far more than a key's one line: a larger file (or /dev/zero) is not a key, and is not read further. */
export const MAX_KEY_FILE_BYTES = 64 * 1024;

/** A verifier key given as itself (name+id+base64) or as a file holding it (`--vkey`, `--witness`). */
export function keyText(value: string, what: string): string {
  if (value.includes('+') && !existsSync(value)) return value.trim();
  return readBoundedText(value, MAX_KEY_FILE_BYTES, {
    unreadable: () => `${what} is neither a verifier key (name+id+base64) nor a readable file: ${value}`,
    tooLarge: `${what} ${value}: larger than ${MAX_KEY_FILE_BYTES / 1024} KiB, so not a verifier key (one line, name+id+base64)`,
  }).trim();
}
