// `enclave record get|put|delete|list`: records through the API. Fields the caller may not see are
// withheld by the server and listed; the CLI prints what it gets.
import { InvalidArgumentError, type Command } from 'commander';
import type { RecordPage, RecordView } from '../../services/vault.ts';
import type { ApiClient } from '../api-client.ts';
import { seg } from '../api-client.ts';
import type { CliContext } from '../context.ts';
import { CliError, usageError } from '../fail.ts';
import { followPages } from '../follow-pages.ts';
import type { Io } from '../io.ts';
import { addClientOptions, clientOf, examples, integerIn, recordId } from '../options.ts';
import { readInput } from '../output-files.ts';
import { columns, count, Output, printable } from '../output.ts';

interface PutOptions {
  readonly data?: string;
  readonly file?: string;
  readonly create?: boolean;
  readonly ifMatch?: string;
  readonly json?: boolean;
}

/**
 * `--if-match`: the record's ETag as the server gave it (`"3.mww7j89t"`, or without the quotes, which a
 * shell tends to eat), sent as a quoted entity-tag (RFC 9110 §8.8.3). A bare version is refused here: the
 * server no longer takes it for a tag, since a record deleted and created again starts at version 1 again.
 */
export function etagArgument(value: string): string {
  const text = value.trim();
  const opaque = text.length >= 2 && text.startsWith('"') && text.endsWith('"') ? text.slice(1, -1) : text;
  if (/^[0-9]+$/.test(opaque)) throw new InvalidArgumentError('expected the record\'s ETag as `enclave record get` shows it (e.g. "3.mww7j89t"), not a bare version');
  if (!/^[\x21\x23-\x7e]+$/.test(opaque)) throw new InvalidArgumentError('expected the record\'s ETag as `enclave record get` shows it, e.g. "3.mww7j89t"');
  return `"${opaque}"`;
}

/**
 * A record for people; with its ETag (what `--if-match` takes) when the answer gave one: the ETag header,
 * or the record's own `etag` (each record of a list carries it).
 */
export function describeRecord(r: RecordView & { readonly etag?: unknown }, header?: string): string {
  const etag = header ?? (typeof r.etag === 'string' ? r.etag : undefined);
  const fields = Object.entries(r.data).map(([k, v]) => [k, v === null ? 'null' : typeof v === 'string' ? v : JSON.stringify(v)]);
  return [
    printable(`${r.collection}/${r.id}  subject ${r.subject}  version ${r.version}${etag === undefined ? '' : `  etag ${etag}`}  updated ${r.updated_at}`),
    columns(fields),
    ...(r.withheld.length > 0 ? [`  withheld: ${printable(r.withheld.join(', '))}`] : []),
  ].join('\n');
}

async function recordData(io: Io, opts: PutOptions): Promise<Record<string, unknown>> {
  if ((opts.data === undefined) === (opts.file === undefined)) throw usageError('give the record data with exactly one of --data \'<json>\' or --file <path>');
  let text: string;
  let source: string;
  if (opts.data !== undefined) {
    text = opts.data;
    source = '--data';
  } else {
    const file = opts.file ?? '-';
    source = file === '-' ? 'stdin' : file;
    text = await readInput(io, file);
  }
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    throw usageError(`${source} is not valid JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw usageError(`${source} must be a JSON object of field values`);
  return value as Record<string, unknown>;
}

/** An answer as it comes, before its members are checked. */
type Unchecked<T> = { readonly [K in keyof T]?: unknown };

/** Every record of the subject, page by page (follow-pages.ts: a cursor that repeats, or never ends, stops the listing). */
async function allRecords(client: ApiClient, subject: string, collection: string | undefined, limit: number): Promise<RecordView[]> {
  const records: RecordView[] = [];
  const pages = followPages<string, { records: RecordView[]; next: string | null }>({
    server: client.baseUrl,
    task: 'listing',
    start: undefined,
    fetch: async (cursor) => {
      const q = new URLSearchParams({ limit: String(limit), ...(collection === undefined ? {} : { collection }), ...(cursor === undefined ? {} : { cursor }) });
      // Checked before it is followed: a missing `next` would otherwise be followed for ever.
      const page: Unchecked<RecordPage> = (await client.get<Unchecked<RecordPage>>(`/v1/subjects/${seg(subject)}/records?${q.toString()}`)).body;
      if (!Array.isArray(page.records) || (page.next !== null && typeof page.next !== 'string')) {
        throw new CliError('bad_response', `the server at ${client.baseUrl} answered a record page without a records list and a next cursor (a string or null)`);
      }
      return { records: page.records as RecordView[], next: page.next };
    },
    next: (page) => page.next,
    got: () => `${count(records.length)} records`,
  });
  for await (const page of pages) records.push(...page.records);
  return records;
}

export function registerRecord(program: Command, { io }: CliContext): void {
  const record = program
    .command('record')
    .summary('read, write, delete and list records')
    .description('Records through the API of a running server. Protected fields the token may not see are withheld and listed as such.')
    .addHelpText(
      'after',
      examples(
        'enclave record get users u-42',
        'enclave record put users u-42 --create --data \'{"user_id":"u-42","username":"kim","email":"kim@example.com"}\'',
        'enclave record list u-42 --collection messages',
      ),
    );

  addClientOptions(
    record
      .command('get')
      .summary('read one record')
      .argument('<collection>', 'the collection, e.g. users')
      .argument('<id>', 'the record id', recordId)
      .option('--json', 'print the record as JSON'),
  )
    .addHelpText('after', examples('enclave record get users u-42', 'enclave record get users u-42 --json | jq .data'))
    .action(async (collection: string, id: string, opts: { json?: boolean }, cmd: Command) => {
      const client = await clientOf(cmd);
      const { body, etag } = await client.get<RecordView>(`/v1/collections/${seg(collection)}/records/${seg(id)}`);
      new Output(io, { json: opts.json === true }).result(body, (r) => describeRecord(r, etag));
    });

  addClientOptions(
    record
      .command('put')
      .summary('create (--create, or no id) or replace (an id) a record')
      .description(
        [
          "Writes a record. The data is a JSON object of the collection's fields, from --data or from --file (--file - reads stdin). Predictable on purpose:",
          '  put <collection> --data …          create; the server picks the id',
          '  put <collection> <id> --create …   create with this id (fails if it exists)',
          '  put <collection> <id> …            replace (fails if it does not exist;',
          '                                     with --if-match <etag>, only while it is',
          '                                     the record that ETag names)',
        ].join('\n'),
      )
      .argument('<collection>', 'the collection, e.g. users')
      .argument('[id]', 'the record id')
      .option('--data <json>', 'the record data as a JSON object')
      .option('--file <path>', 'read the record data from a JSON file (- for stdin)')
      .option('--create', 'create the record instead of replacing it')
      .option('--if-match <etag>', 'replace only if the record is still the one this ETag names, as `record get` shows it, e.g. \'"3.mww7j89t"\' (quotes optional): not changed, nor deleted and created again since (optimistic concurrency)', etagArgument)
      .option('--json', 'print the record as JSON'),
  )
    .addHelpText(
      'after',
      examples(
        'enclave record put users --data \'{"user_id":"u-42","username":"kim","email":"kim@example.com"}\'',
        'enclave record put users u-42 --create --file kim.json',
        'enclave record put users u-42 --file kim.json --if-match \'"3.mww7j89t"\'',
      ),
    )
    .action(async (collection: string, id: string | undefined, opts: PutOptions, cmd: Command) => {
      const create = opts.create === true || id === undefined;
      if (create && opts.ifMatch !== undefined) throw usageError('--if-match applies to replacing an existing record, not to --create');
      const data = await recordData(io, opts);
      const client = await clientOf(cmd);
      const path = `/v1/collections/${seg(collection)}/records`;
      const { body, etag } = create
        ? await client.post<RecordView>(path, { ...(id === undefined ? {} : { id }), data })
        : await client.request<RecordView>('PUT', `${path}/${seg(id)}`, {
            body: { data },
            ...(opts.ifMatch === undefined ? {} : { headers: { 'if-match': opts.ifMatch } }),
          });
      new Output(io, { json: opts.json === true }).result(body, (r) => `${create ? 'created' : 'replaced'} ${r.collection}/${r.id} (version ${r.version}${etag === undefined ? '' : `, etag ${printable(etag)}`})`);
    });

  addClientOptions(
    record
      .command('delete')
      .summary('delete one record')
      .argument('<collection>', 'the collection')
      .argument('<id>', 'the record id', recordId)
      .option('--if-match <etag>', 'delete only if the record is still the one this ETag names, as `record get` shows it (quotes optional)', etagArgument)
      .option('--json', 'print the result as JSON'),
  )
    .addHelpText('after', examples('enclave record delete messages m-7', 'enclave record delete users u-42 --if-match 2.mww7j89t'))
    .action(async (collection: string, id: string, opts: { ifMatch?: string; json?: boolean }, cmd: Command) => {
      const client = await clientOf(cmd);
      await client.request('DELETE', `/v1/collections/${seg(collection)}/records/${seg(id)}`, opts.ifMatch === undefined ? {} : { headers: { 'if-match': opts.ifMatch } });
      new Output(io, { json: opts.json === true }).result({ collection, id, deleted: true }, () => `deleted ${collection}/${id}`);
    });

  addClientOptions(
    record
      .command('list')
      .summary("list a subject's records")
      .argument('<subject>', 'the subject id', recordId)
      .option('--collection <name>', 'only this collection')
      .option('--page-size <n>', 'records fetched per request', integerIn(1, 1000), 100)
      .option('--json', 'print the records as JSON'),
  )
    .addHelpText('after', examples('enclave record list u-42', 'enclave record list u-42 --collection messages --json'))
    .action(async (subject: string, opts: { collection?: string; pageSize: number; json?: boolean }, cmd: Command) => {
      const records = await allRecords(await clientOf(cmd), subject, opts.collection, opts.pageSize);
      new Output(io, { json: opts.json === true }).result({ subject, records }, (p) =>
        p.records.length === 0 ? `no records for ${p.subject}` : p.records.map((r) => describeRecord(r)).join('\n\n'),
      );
    });
}
