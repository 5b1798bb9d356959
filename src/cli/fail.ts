// The single place where any failure becomes ONE line on stderr, `enclave: <code>: <message>`, and an
// exit code: 2 for usage errors (bad arguments, unknown commands), 1 for everything else. No stack trace
// is ever printed: the code and message are meant for the person at the terminal.
import { CommanderError } from 'commander';
import { EnclaveError, type ErrorCode } from '../core/errors.ts';
import { printable } from './output.ts';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Codes of failures that happen only on the client side; everything else uses the API's codes. Listed in docs/errors.md. */
export const CLI_ONLY_CODES = {
  unreachable: 'The server did not answer (not running, wrong --server, or timed out).',
  bad_response: 'The server answered with something that is not an Enclave API response, or with a redirect, which the CLI does not follow.',
  listen_failed: '`enclave serve` could not listen on the configured host and port.',
  aborted: 'The person at the terminal interrupted a prompt.',
  verification_failed: '`enclave migrate verify` found mismatches between the source and the vault (listed on stdout).',
} as const;
export type CliOnlyCode = keyof typeof CLI_ONLY_CODES;
export type CliCode = ErrorCode | CliOnlyCode;

export class CliError extends Error {
  readonly code: CliCode;
  readonly exitCode: typeof EXIT_FAILURE | typeof EXIT_USAGE;

  constructor(code: CliCode, message: string, options: { exitCode?: typeof EXIT_FAILURE | typeof EXIT_USAGE; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.code = code;
    this.exitCode = options.exitCode ?? EXIT_FAILURE;
  }
}

/** A bad command line: reported like commander's own usage errors, with exit code 2. */
export function usageError(message: string): CliError {
  return new CliError('invalid_argument', message, { exitCode: EXIT_USAGE });
}

export interface Failure {
  /** null: nothing to print (help was shown, or commander already explained itself). */
  readonly code: CliCode | null;
  readonly message: string;
  readonly exitCode: number;
}

/**
 * Collapses a message onto one printable line: its lines joined, other white space (\r, \t) as one space,
 * and every other control character as its \uXXXX escape (no terminal escapes, whoever wrote the message:
 * the API relays its server's).
 */
export function oneLine(text: string): string {
  return printable(
    text
      .replace(/:\s*\n\s*-\s*/g, ': ')
      .replace(/\s*\n\s*-?\s*/g, '; ')
      .replace(/\s+/g, ' ')
      .trim(),
  );
}

export function describeFailure(err: unknown): Failure {
  if (err instanceof CommanderError) {
    // Help and version requests end parsing through the same path as errors.
    if (err.exitCode === 0) return { code: null, message: '', exitCode: EXIT_OK };
    // A command group called without a subcommand: commander has printed the group's help on stderr.
    if (err.code === 'commander.help') return { code: null, message: '', exitCode: EXIT_USAGE };
    let message = err.message.replace(/^error:\s*/i, '');
    // An unknown option is quoted as typed, value and all (`--tokn=enc_…`, `-xenc_…`): keep its name only,
    // as the value may be a token or a share, and stderr may end up in a CI log.
    if (err.code === 'commander.unknownOption') message = message.replace(/^unknown option '(--[^'=]*=|-[^-'])[^']+'/, "unknown option '$1…'");
    return { code: 'invalid_argument', message: `${oneLine(message)} (see --help)`, exitCode: EXIT_USAGE };
  }
  if (err instanceof CliError) return { code: err.code, message: oneLine(err.message), exitCode: err.exitCode };
  if (err instanceof EnclaveError) return { code: err.code, message: oneLine(err.message), exitCode: EXIT_FAILURE };
  if (err instanceof Error) {
    const errno = (err as NodeJS.ErrnoException).code;
    return { code: 'internal', message: oneLine(typeof errno === 'string' && !err.message.includes(errno) ? `${errno}: ${err.message}` : err.message), exitCode: EXIT_FAILURE };
  }
  return { code: 'internal', message: oneLine(String(err)), exitCode: EXIT_FAILURE };
}

/** Prints the failure (if there is anything to say) and returns the exit code. */
export function reportFailure(err: unknown, write: (line: string) => void): number {
  const f = describeFailure(err);
  if (f.code !== null) write(`enclave: ${f.code}: ${f.message || 'failed'}\n`);
  return f.exitCode;
}
