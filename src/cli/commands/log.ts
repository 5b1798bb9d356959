// `enclave log verify` and `enclave log proof`: what an outside party runs against a log's public
// C2SP tlog-tiles resources (checkpoint, tiles, entry bundles), with nothing but the log's verifier key.
// `registerLog` returns the `log` command so other subcommands (search) can be added beside these.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { EnclaveError } from '../../core/errors.ts';
import { HASH_SIZE } from '../../core/tlog/merkle.ts';
import { MAX_NOTE_SIZE } from '../../core/tlog/note.ts';
import { MAX_ENTRY_SIZE, TILE_WIDTH } from '../../core/tlog/tiles.ts';
import type { LogFetch, LogVerification } from '../../services/log-verifier.ts';
import { bearerToken, enclaveErrorOf, send } from '../api-client.ts';
import type { CliContext } from '../context.ts';
import { CliError, usageError } from '../fail.ts';
import type { Io } from '../io.ts';
import { examples, integerIn, keyText } from '../options.ts';
import { readBoundedText, writeFileAtomic } from '../output-files.ts';
import { Output, count, printable } from '../output.ts';

const PROGRESS_FROM = 65_536;

interface LogSourceOptions {
  readonly url: string;
  readonly token?: string;
}

interface VerifyOptions extends LogSourceOptions {
  readonly vkey: string;
  readonly origin?: string;
  readonly entry?: number[];
  readonly since?: string;
  readonly save?: string;
  readonly witness?: string[];
  readonly quorum?: number;
  readonly full: boolean;
  readonly json?: boolean;
  readonly quiet?: boolean;
}

interface ProofOptions extends LogSourceOptions {
  readonly index: number;
  readonly vkey?: string;
  readonly out?: string;
}

const entryIndex = integerIn(0, Number.MAX_SAFE_INTEGER);

function collectIndex(value: string, previous: number[] | undefined): number[] {
  return [...(previous ?? []), entryIndex(value)];
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** The log's URL prefix: a server root (no path) means its `/log` prefix. */
export function logPrefix(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('expected a URL such as http://127.0.0.1:8700/log');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError('expected an http:// or https:// URL');
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') throw new InvalidArgumentError('the URL must have no credentials, query or fragment');
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.origin}${path === '' ? '/log' : path}`;
}

/** The most a valid resource can hold: a note, a full entry bundle (256 entries of 2 + 65,535 bytes), a full tile. */
function maxBytesOf(path: string): number {
  if (path.startsWith('tile/entries/')) return TILE_WIDTH * (2 + MAX_ENTRY_SIZE);
  if (path.startsWith('tile/')) return TILE_WIDTH * HASH_SIZE;
  return MAX_NOTE_SIZE;
}

/** GETs resources under the log prefix; 404 is "absent", anything else unexpected is a one-line failure. */
export function httpLogFetch(prefix: string, given: string | undefined): LogFetch {
  const token = bearerToken(given);
  return async (path) => {
    const url = `${prefix}/${path}`;
    const res = await send(url, { headers: token ? { authorization: `Bearer ${token}` } : {} }, url, 'is the log served there? (--url)', maxBytesOf(path));
    if (res.status === 200) return res.body;
    if (res.status === 404) return undefined;
    if (res.status === 401) throw new EnclaveError('unauthenticated', `${url} needs a bearer token: pass --token or set ENCLAVE_TOKEN`);
    // An Enclave server's own error (code and message) for that URL, else a bad_response naming the status.
    throw enclaveErrorOf(new TextDecoder().decode(res.body), `${url}: `) ?? new CliError('bad_response', `${url} answered HTTP ${res.status}`);
  };
}

function entries(n: number): string {
  return `${count(n)} ${n === 1 ? 'entry' : 'entries'}`;
}

function sourceOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--url <url>', "the log's URL prefix (a server root means its /log)", logPrefix)
    .addOption(new Option('-t, --token <token>', 'bearer token, if the log needs one (prefer the environment variable)').env('ENCLAVE_TOKEN'));
}

export function registerLog(program: Command, { io }: CliContext): Command {
  const log = program
    .command('log')
    .summary('verify the transparency log from outside, export proofs')
    .description('Commands for anyone who verifies the transparency log: they read only its public C2SP tlog-tiles resources (checkpoint, tiles, entry bundles) and trust only the verifier keys given to them.')
    .addHelpText(
      'after',
      examples(
        'curl -s http://127.0.0.1:8700/log/vkey > log.vkey      # once, from a source you trust',
        'enclave log verify --url http://127.0.0.1:8700/log --vkey log.vkey --save cp.txt',
        'enclave log proof --url http://127.0.0.1:8700/log --index 42 --out entry-42.tlog-proof',
      ),
    );

  sourceOptions(
    log
      .command('verify')
      .summary('verify the checkpoint, the whole tree, chosen entries, consistency and witnesses')
      .description(
        'Verifies the log as an outside party: the checkpoint signature against the pinned --vkey, the whole Merkle tree recomputed from every entry bundle and tile (RFC 9162), the inclusion of each --entry, consistency with a checkpoint saved by an earlier run (--since; a rollback, a split view or rewritten history fails), and a quorum of witness cosignatures (--witness, --quorum). Exits non-zero with one line naming the first mismatch.',
      ),
  )
    .requiredOption('--vkey <vkey>', "the log's verifier key (name+id+base64, as GET /log/vkey serves it), or a file holding it")
    .option('--origin <origin>', "the checkpoint origin expected (default: the key's name)")
    .option('--entry <index>', 'also prove and check the inclusion of this entry (repeatable)', collectIndex)
    .option('--since <file>', 'a checkpoint saved earlier (--save): the log must be consistent with it')
    .option('--save <file>', 'after success, save the verified checkpoint there (for the next --since)')
    .option('--witness <vkey>', "a trusted witness's cosignature key (repeatable), or a file holding it", collect)
    .option('--quorum <k>', 'how many of the --witness keys must have cosigned (default: all)', integerIn(0, 1000))
    .option('--no-full', 'skip recomputing the whole tree (check only the signature, entries, consistency and witnesses)')
    .option('--json', 'print the result as JSON')
    .option('-q, --quiet', 'no progress output (otherwise shown for a log of 65,536 entries or more: a bar on a terminal, JSON lines on stderr elsewhere)')
    .addHelpText(
      'after',
      examples(
        'enclave log verify --url http://127.0.0.1:8700/log --vkey "$(cat log.vkey)" --save cp.txt',
        'enclave log verify --url https://enclave.example/log --vkey log.vkey --since cp.txt --save cp.txt --entry 42',
        'enclave log verify --url https://enclave.example/log --vkey log.vkey --witness w1.vkey --witness w2.vkey --quorum 1',
      ),
    )
    .action(async (opts: VerifyOptions) => {
      await verify(io, opts);
    });

  sourceOptions(
    log
      .command('proof')
      .summary('export the inclusion proof of one entry (C2SP tlog-proof)')
      .description(
        'Computes the inclusion proof of entry --index from the tiles, checks it against the checkpoint root (and the checkpoint signature with --vkey), and writes it in the C2SP tlog-proof format, which anyone can verify offline with the log key.',
      ),
  )
    .requiredOption('--index <n>', 'the entry index', entryIndex)
    .option('--vkey <vkey>', "check the checkpoint's signature with the log's verifier key (or a file holding it)")
    .option('--out <file>', 'write the proof to this file (default: stdout); .tlog-proof is the usual extension')
    .addHelpText('after', examples('enclave log proof --url http://127.0.0.1:8700/log --index 42 --vkey log.vkey --out entry-42.tlog-proof'))
    .action(async (opts: ProofOptions) => {
      await exportProof(io, opts);
    });
  return log;
}

/**
 * The checkpoint --save wrote: a signed note, which no parser takes above MAX_NOTE_SIZE (1 MiB), so a
 * larger file (or /dev/zero) is refused unread.
 */
function savedCheckpoint(path: string): string {
  return readBoundedText(path, MAX_NOTE_SIZE, {
    unreadable: (code) => (code === 'ENOENT' ? `--since ${path}: no such file (it is written by --save)` : `--since ${path}: cannot read it: ${code}`),
    tooLarge: `--since ${path}: larger than ${MAX_NOTE_SIZE / 1024 / 1024} MiB, so not a checkpoint (the signed note written by --save)`,
  });
}

async function verify(io: Io, opts: VerifyOptions): Promise<void> {
  const { verifyLog } = await import('../../services/log-verifier.ts');
  const { createProgress, progressMode } = await import('../progress.ts');
  const out = new Output(io, { json: opts.json === true });
  // Read before anything is fetched: a wrong path fails at once.
  const since = opts.since === undefined ? undefined : savedCheckpoint(opts.since);
  const witnesses = (opts.witness ?? []).map((w) => keyText(w, '--witness'));
  if (opts.quorum !== undefined && opts.quorum > witnesses.length) throw usageError(`--quorum ${opts.quorum} is more than the ${witnesses.length} --witness keys given`);
  let progress: ReturnType<typeof createProgress> | undefined;
  const result = await verifyLog({
    fetch: httpLogFetch(opts.url, opts.token),
    vkey: keyText(opts.vkey, '--vkey'),
    ...(opts.origin === undefined ? {} : { origin: opts.origin }),
    full: opts.full,
    entries: opts.entry ?? [],
    ...(since === undefined ? {} : { since }),
    witnesses,
    ...(opts.quorum === undefined ? {} : { quorum: opts.quorum }),
    // As every long command (progress.ts): a bar on a terminal, JSON lines on stderr elsewhere (also with
    // --json, whose result is on stdout), nothing with --quiet.
    onProgress: (done, size) => {
      if (size < PROGRESS_FROM) return;
      progress ??= createProgress(io, progressMode(io, opts.quiet === true), { task: 'verifying', total: size, unit: 'entries', rate: true });
      progress.update(done);
    },
  });
  progress?.stop();
  if (opts.save !== undefined) writeFileAtomic(opts.save, result.note, '--save');
  out.result(report(result, opts), (r) => human(r, opts));
}

interface VerifyReport {
  readonly origin: string;
  readonly size: number;
  readonly root: string;
  readonly tree: { readonly entries: number; readonly tiles: number } | null;
  readonly entries: readonly { readonly index: number; readonly entry: string; readonly proof: readonly string[] }[];
  readonly consistent_with: number | null;
  readonly witnesses: { readonly cosigned: readonly string[]; readonly trusted: number; readonly quorum: number };
  readonly saved: string | null;
}

function report(r: LogVerification, opts: VerifyOptions): VerifyReport {
  const decoder = new TextDecoder();
  return {
    origin: r.checkpoint.origin,
    size: r.checkpoint.size,
    root: Buffer.from(r.checkpoint.root).toString('base64'),
    tree: opts.full ? { entries: r.entriesChecked, tiles: r.tilesChecked } : null,
    entries: r.entries.map((e) => ({ index: e.index, entry: decoder.decode(e.entry), proof: e.proof.map((h) => Buffer.from(h).toString('base64')) })),
    consistent_with: r.consistentWith ?? null,
    witnesses: { cosigned: r.cosigners, trusted: opts.witness?.length ?? 0, quorum: opts.quorum ?? opts.witness?.length ?? 0 },
    saved: opts.save ?? null,
  };
}

function human(r: VerifyReport, opts: VerifyOptions): string {
  const lines = [`verified ${r.origin}: checkpoint of ${entries(r.size)}, root ${r.root}, signed by the log key`];
  if (r.tree) lines.push(`  tree: ${count(r.tree.entries)} entries and ${count(r.tree.tiles)} tiles rehashed; they match the root`);
  else lines.push('  tree: not recomputed (--no-full)');
  for (const e of r.entries) lines.push(`  entry ${e.index}: included (${`${count(e.proof.length)} proof ${e.proof.length === 1 ? 'hash' : 'hashes'}`}): ${printable(e.entry)}`);
  if (r.consistent_with !== null) lines.push(`  consistent with the saved checkpoint of ${count(r.consistent_with)} entries (${opts.since ?? ''})`);
  if (r.witnesses.trusted > 0) {
    lines.push(`  witnesses: ${r.witnesses.cosigned.length} of ${r.witnesses.trusted} cosigned (quorum ${r.witnesses.quorum})${r.witnesses.cosigned.length > 0 ? `: ${r.witnesses.cosigned.join(', ')}` : ''}`);
  }
  if (r.saved !== null) lines.push(`  saved the checkpoint to ${r.saved}`);
  return lines.join('\n');
}

async function exportProof(io: Io, opts: ProofOptions): Promise<void> {
  const { proveEntry } = await import('../../services/log-verifier.ts');
  const { formatTlogProof } = await import('../../core/tlog/proof-format.ts');
  const proof = await proveEntry({
    fetch: httpLogFetch(opts.url, opts.token),
    index: opts.index,
    ...(opts.vkey === undefined ? {} : { vkey: keyText(opts.vkey, '--vkey') }),
  });
  const text = formatTlogProof(proof);
  // On stdout as every result is (its checkpoint came from the server); it ends with its own line feed.
  if (opts.out === undefined) return new Output(io).line(text.replace(/\n$/, ''));
  writeFileAtomic(opts.out, text, '--out');
  new Output(io).note(`wrote the inclusion proof of entry ${opts.index} in the checkpoint of ${entries(proof.size)} to ${opts.out}${opts.vkey === undefined ? ' (checkpoint signature not checked: no --vkey)' : ''}`);
}
