// `enclave unseal`: enters one officer's share into the running server, or shows or resets the attempt.
import { Option, type Command } from 'commander';
import type { SealStatus } from '../../services/seal-service.ts';
import type { CliContext } from '../context.ts';
import { configurationNote } from '../configuration-note.ts';
import { usageError } from '../fail.ts';
import type { Io } from '../io.ts';
import { addClientOptions, clientOf, examples } from '../options.ts';
import { Output } from '../output.ts';
import { openPipedPacket } from '../identity-file.ts';
import { readHidden, readStdin } from '../prompt.ts';

interface UnsealOptions {
  readonly share?: string;
  readonly identity?: string;
  readonly status?: boolean;
  readonly reset?: boolean;
  readonly json?: boolean;
}

export function describeSeal(s: SealStatus): string {
  if (!s.initialized) return 'not initialized (run `enclave init`)';
  if (!s.sealed) return 'unsealed';
  // Officers see an edited configuration before they unseal with it (the unseal logs its digests).
  const changed = configurationNote(s.configuration_changed);
  const note = changed === undefined ? '' : `; ${changed}`;
  return `${s.progress}/${s.threshold} shares entered; sealed${s.entered.length > 0 ? ` (entered: ${s.entered.join(', ')})` : ''}${note}`;
}

async function shareFrom(io: Io, opts: UnsealOptions): Promise<string> {
  // The packet init or rekey encrypted to this officer: opened here, so only the share leaves this machine.
  if (opts.identity !== undefined) return (await openPipedPacket(io, opts.identity)).share;
  let text: string;
  if (opts.share !== undefined) text = opts.share;
  else if (io.stdin.isTTY === true) text = await readHidden(io, 'Unseal share (input is hidden): ');
  else text = await readStdin(io);
  const parts = text.trim().split(/\s+/).filter((p) => p !== '');
  if (parts.length === 0) throw usageError('no share given: pass --share, type it when prompted, or pipe it on stdin');
  if (parts.length > 1) throw usageError('one share at a time: each officer enters their own');
  return parts[0] ?? '';
}

export function registerUnseal(program: Command, { io }: CliContext): void {
  const cmd = program
    .command('unseal')
    .summary("enter an officer's unseal share into the running server")
    .description(
      `Enters one officer's unseal share. When the threshold of shares has been entered the server reconstructs the root key in memory and serves protected data. The share is read from --share, else from standard input: prompted without echo on a terminal, or piped. Prefer the prompt: arguments are visible to other users of this machine and stay in shell history.`,
    )
    .addOption(new Option('--share <share>', 'the share (default: read from stdin)').conflicts(['status', 'reset']))
    .addOption(new Option('--identity <file>', 'your age identity file: the share is read from the encrypted packet piped on stdin (seal.recipients)').conflicts(['share', 'status', 'reset']))
    .addOption(new Option('--status', 'show the seal status and unseal progress only').conflicts('reset'))
    .option('--reset', 'abandon the current attempt: the shares entered so far are forgotten')
    .option('--json', 'print the seal status as JSON');
  addClientOptions(cmd, { token: false })
    .addHelpText(
      'after',
      examples(
        'enclave unseal                            # prompts for the share without echo',
        'enclave unseal --server http://10.0.0.5:8700 < alice.share',
        'enclave unseal --status',
        'enclave unseal --reset                    # start again after a mistake',
        'enclave unseal --identity ~/.enclave/alice.key < alice.share.age   # a share encrypted to you (seal.recipients)',
      ),
    )
    .action(async (opts: UnsealOptions, command: Command) => {
      const out = new Output(io, { json: opts.json === true });
      const client = await clientOf(command);
      let status: SealStatus;
      if (opts.status === true) status = (await client.get<SealStatus>('/v1/sys/seal-status', { auth: false })).body;
      else if (opts.reset === true) status = (await client.post<SealStatus>('/v1/sys/unseal', { reset: true }, { auth: false })).body;
      else {
        const share = await shareFrom(io, opts);
        status = (await client.post<SealStatus>('/v1/sys/unseal', { share }, { auth: false })).body;
      }
      out.result(status, (s) => (opts.reset === true ? `unseal attempt reset; ${describeSeal(s)}` : describeSeal(s)));
    });
}
