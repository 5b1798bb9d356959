// `enclave log search` and `enclave log subject-key`: the gatekeeper team's and the regulator's side of
// the transparency log, through the API of a running server. Search results come with inclusion proofs,
// which this command checks against the page's checkpoint (and its signature, given --vkey) before
// printing anything. `registerLogSearch` adds both to the `log` command of log.ts.
import { InvalidArgumentError, type Command } from 'commander';
import { canonicalJsonBytes } from '../../core/canonical-json.ts';
import { EnclaveError } from '../../core/errors.ts';
import { LOG_EVENT_TYPES } from '../../core/event-log.ts';
import { decodeLogEntry, type LogEntry } from '../../core/log-entry.ts';
import { parseRfc3339 } from '../../core/rfc3339.ts';
import { openCheckpoint, parseCheckpoint } from '../../core/tlog/checkpoint.ts';
import { decodeBase64 } from '../../core/tlog/encoding.ts';
import { checkRecord, leafHash } from '../../core/tlog/merkle.ts';
import { noteVerifier, splitNote } from '../../core/tlog/note.ts';
import type { CliContext } from '../context.ts';
import { CliError } from '../fail.ts';
import { followPages } from '../follow-pages.ts';
import { addClientOptions, clientOf, examples, integerIn, keyText } from '../options.ts';
import { columns, count, Output } from '../output.ts';
import type { Progress } from '../progress.ts';

interface SearchPage {
  readonly checkpoint: string | null;
  readonly size: number;
  readonly results: readonly { readonly index: number; readonly entry: LogEntry; readonly proof: readonly string[] }[];
  readonly next: number | null;
}

interface SearchOptions {
  readonly from?: string;
  readonly to?: string;
  readonly principal?: string;
  readonly type?: string;
  readonly subject?: string;
  readonly subjectHash?: string;
  readonly after?: number;
  readonly limit: number;
  readonly all?: boolean;
  readonly vkey?: string;
  readonly json?: boolean;
  readonly quiet?: boolean;
}

function time(value: string): string {
  if (parseRfc3339(value) === undefined) throw new InvalidArgumentError('expected an RFC 3339 time such as 2026-03-01T00:00:00Z');
  return value;
}

function eventType(value: string): string {
  if (!(LOG_EVENT_TYPES as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of: ${LOG_EVENT_TYPES.join(', ')}`);
  return value;
}

function hex64(value: string): string {
  if (!/^[0-9a-f]{64}$/.test(value)) throw new InvalidArgumentError('expected 64 lower-case hex digits (the subject\'s keyed hash)');
  return value;
}

/** The page has the shape the API documents (a server's answer is not trusted to). */
function checkShape(page: unknown): asserts page is SearchPage {
  const bad = (why: string): never => {
    throw new CliError('bad_response', `the search answer is not a search page: ${why}`);
  };
  if (typeof page !== 'object' || page === null || Array.isArray(page)) bad('not a JSON object');
  const p = page as Record<string, unknown>;
  if (p['checkpoint'] !== null && typeof p['checkpoint'] !== 'string') bad('checkpoint is neither a string nor null');
  if (!Number.isSafeInteger(p['size'])) bad('size is not an integer');
  if (p['next'] !== null && !Number.isSafeInteger(p['next'])) bad('next is neither an integer nor null');
  if (!Array.isArray(p['results'])) bad('results is not an array');
  for (const r of p['results'] as unknown[]) {
    const item = (typeof r === 'object' && r !== null ? r : {}) as Record<string, unknown>;
    if (!Number.isSafeInteger(item['index'])) bad('a result has no integer index');
    if (typeof item['entry'] !== 'object' || item['entry'] === null || Array.isArray(item['entry'])) bad(`result ${String(item['index'])} has no entry object`);
    if (!Array.isArray(item['proof']) || !item['proof'].every((h) => typeof h === 'string')) bad(`result ${String(item['index'])} has no proof (an array of base64 hashes)`);
  }
}

/** Checks every result's inclusion proof against the page's checkpoint (signed by `vkey` when given). */
export function checkPage(page: SearchPage, vkey?: string): void {
  checkShape(page);
  if (page.checkpoint === null) {
    // The server answers so only before its first checkpoint, when nothing can be proven, so nothing is found.
    if (page.results.length > 0) throw new EnclaveError('log_mismatch', `the page holds ${page.results.length} results but no checkpoint to prove them against`);
    return;
  }
  const checkpoint = vkey === undefined ? parseCheckpoint(splitNote(page.checkpoint).text) : openCheckpoint(page.checkpoint, noteVerifier(vkey)).checkpoint;
  if (checkpoint.size !== page.size) throw new EnclaveError('log_mismatch', `the page claims size ${page.size} but its checkpoint has ${checkpoint.size}`);
  for (const r of page.results) {
    let bytes: Uint8Array;
    try {
      bytes = canonicalJsonBytes(r.entry);
      checkRecord(r.proof.map((h, i) => decodeBase64(h, `proof hash ${i}`)), checkpoint.size, checkpoint.root, r.index, leafHash(bytes));
    } catch (err) {
      throw new EnclaveError('log_proof_invalid', `search result ${r.index} is not proven to be in the checkpoint: ${err instanceof Error ? err.message : String(err)}`);
    }
    // Proven, so the log holds it; still checked to be an entry before its members are printed.
    try {
      decodeLogEntry(bytes);
    } catch (err) {
      throw new EnclaveError('invalid_log_data', `search result ${r.index} is not a log entry: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

function describeEntry(e: LogEntry): string {
  const d = e.details;
  const action = typeof d['action'] === 'string' ? d['action'] : '';
  const verdict = d['allow'] === false ? 'deny' : d['allow'] === true ? (d['release'] === 'public' ? 'allow (public only)' : 'allow') : '';
  const where = typeof d['collection'] === 'string' ? d['collection'] : '';
  return [action, verdict, where].filter((x) => x !== '').join(' ');
}

export function registerLogSearch(log: Command, { io }: CliContext): void {
  addClientOptions(
    log
      .command('search')
      .summary('search the log by time, principal, event type and subject (gatekeeper team, regulator)')
      .description(
        'Searches the transparency log of a running server (needs log.search). Each result comes with its inclusion proof, checked here against the checkpoint of the page, and against the log\'s key too with --vkey. A subject is given as its id (the server hashes it; it must be unsealed) or as its keyed hash.',
      )
      .option('--from <time>', 'entries at or after this RFC 3339 time', time)
      .option('--to <time>', 'entries before this RFC 3339 time', time)
      .option('--principal <id>', 'who acted')
      .option('--type <type>', 'event type', eventType)
      .option('--subject <id>', 'a subject id (hashed by the server)')
      .option('--subject-hash <hex>', "a subject's keyed hash", hex64)
      .option('--after <index>', 'start after this entry index (the "next" of a previous page)', integerIn(0, Number.MAX_SAFE_INTEGER))
      .option('--limit <n>', 'results per page, 1 to 1000', integerIn(1, 1000), 100)
      .option('--all', 'follow every page')
      .option('--vkey <vkey>', "the log's verifier key (name+id+base64), or a file holding it: also check the checkpoint's signature", (v: string) => keyText(v, '--vkey'))
      .option('--json', 'print the results as JSON lines, one entry per line')
      .option('-q, --quiet', 'no progress output (otherwise shown while --all follows pages: a bar on a terminal, JSON lines on stderr elsewhere)'),
  )
    .addHelpText(
      'after',
      examples(
        'enclave log search --subject u-42',
        'enclave log search --type access.decision --principal parent-eng --from 2026-03-01T00:00:00Z --all',
        'enclave log search --subject-hash 5f0c…e1 --json --vkey "$(curl -s http://127.0.0.1:8700/log/vkey)"',
      ),
    )
    .action(async (opts: SearchOptions, cmd: Command) => {
      if (opts.subject !== undefined && opts.subjectHash !== undefined) throw new InvalidArgumentError('give --subject or --subject-hash, not both');
      const client = await clientOf(cmd);
      const out = new Output(io, { json: opts.json === true });
      const base = new URLSearchParams();
      const set = (k: string, v: string | number | undefined) => v !== undefined && base.set(k, String(v));
      set('from', opts.from);
      set('to', opts.to);
      set('principal', opts.principal);
      set('type', opts.type);
      set('subject', opts.subject);
      set('subject_hash', opts.subjectHash);
      set('limit', opts.limit);
      let total = 0;
      let size = 0;
      const rows: string[][] = [];
      // While --all follows pages: how far through the checkpoint's entries the search is, as every long
      // command shows it (progress.ts), created once there is a second page to fetch.
      let progress: { readonly total: number; readonly display: Progress } | undefined;
      // Loaded when a command runs, as in log.ts: `--help` stays fast.
      const { createProgress, progressMode } = await import('../progress.ts');
      // JSON results stream to stdout as pages come: on the same terminal a bar would be drawn through them.
      const quiet = opts.quiet === true || (out.json && io.stdout.isTTY === true && io.stderr.isTTY === true);
      // As record list: a cursor that repeats, or never ends, stops the search (follow-pages.ts).
      const pages = followPages<number, SearchPage>({
        server: client.baseUrl,
        task: 'searching',
        start: opts.after,
        fetch: async (after) => {
          const q = new URLSearchParams(base);
          if (after !== undefined) q.set('after', String(after));
          const { body: page } = await client.get<SearchPage>(`/v1/log/search?${q.toString()}`);
          checkPage(page, opts.vkey);
          return page;
        },
        next: (page) => page.next,
        got: () => `${count(total)} ${total === 1 ? 'entry' : 'entries'} found`,
      });
      try {
        for await (const page of pages) {
          size = page.size;
          total += page.results.length;
          for (const r of page.results) {
            if (out.json) out.jsonLine({ index: r.index, entry: r.entry, proof: r.proof, checkpoint_size: page.size });
            else rows.push([String(r.index), r.entry.time, r.entry.type, r.entry.principal?.id ?? '-', r.entry.subject?.slice(0, 12) ?? (r.entry.sealed ? '(sealed)' : '-'), describeEntry(r.entry)]);
          }
          if (page.next === null || opts.all !== true) {
            if (page.next !== null && !out.json) out.note(`more results: --after ${page.next} (or --all)`);
            break;
          }
          // Out of the entries of the first page's checkpoint (a later page may be searched in a larger one).
          progress ??= { total: page.size, display: createProgress(io, progressMode(io, quiet), { task: 'searching', total: page.size, unit: 'entries', extras: ['found'] }) };
          // Every entry up to the last result of the page has been searched.
          progress.display.update(Math.min(page.next + 1, progress.total), { found: total });
        }
        progress?.display.update(progress.total, { found: total });
      } finally {
        // Also when the search fails: its error line comes after the bar, not through it.
        progress?.display.stop();
      }
      if (!out.json) {
        out.line(rows.length === 0 ? 'no entries match' : columns([['INDEX', 'TIME', 'TYPE', 'PRINCIPAL', 'SUBJECT', 'WHAT'], ...rows], ''));
        out.note(`${count(total)} ${total === 1 ? 'entry' : 'entries'}, each proven included in the checkpoint of size ${count(size)}${opts.vkey === undefined ? '' : ' signed by the given key'}`);
      }
    });

  addClientOptions(
    log
      .command('subject-key')
      .summary('disclose the log subject key to a regulator (gatekeeper officer; logged)')
      .description(
        'Prints the key under which the log names subjects (HMAC-SHA256 of the subject id), so that a regulator can link entries to a subject. Needs log.disclose_key and an unsealed enclave; the disclosure itself is logged (key.disclosed) with the recipient and the reason.',
      )
      .requiredOption('--recipient <id>', 'who receives the key (an org or person id)')
      .requiredOption('--reason <text>', 'why, in at least 10 characters (stored in the log verbatim: no personal data)')
      .option('--json', 'print the key as JSON'),
  )
    .addHelpText('after', examples('enclave log subject-key --recipient regulator --reason "2026 audit, case 17"'))
    .action(async (opts: { recipient: string; reason: string; json?: boolean }, cmd: Command) => {
      const client = await clientOf(cmd);
      const { body } = await client.post<{ algorithm: string; key: string; log_index?: number }>('/v1/log/subject-key', { recipient: opts.recipient, reason: opts.reason });
      new Output(io, { json: opts.json === true }).result(body, (k) =>
        [
          `${k.algorithm} key: ${k.key}`,
          `A subject's hash in the log is HMAC-SHA256(key, subject id), e.g. printf %s "$ID" | openssl dgst -sha256 -mac HMAC -macopt hexkey:${k.key}`,
          `The disclosure is log entry ${String(k.log_index)}.`,
        ].join('\n'),
      );
    });
}
