// Follows a server's next-page cursors (`record list`, `log search --all`). A cursor is followed only
// while it is new, and only up to MAX_PAGES pages: a broken or hostile server answering the same cursor
// again, or new cursors without end, must not keep a command fetching for ever.
import { CliError } from './fail.ts';
import { count } from './output.ts';

/**
 * Far more pages than a command fills at up to 1,000 items a page (a subject's records, a search's
 * results): a server still answering `next` after as many is broken.
 */
export const MAX_PAGES = 10_000;

export interface PageFollowing<C, P> {
  /** The server's address, named when it is given up on. */
  readonly server: string;
  /** What stops then, e.g. "listing". */
  readonly task: string;
  /** The cursor of the first page: undefined to start at the beginning. */
  readonly start: C | undefined;
  /** Fetches the page at `cursor` (the first when undefined), its shape checked: `next` is trusted to be a cursor or null. */
  fetch(cursor: C | undefined): Promise<P>;
  /** The page's next-page cursor, null on the last page. */
  next(page: P): C | null;
  /** What the pages so far held, told when it is given up on, e.g. "1,200 records". */
  got(): string;
}

/**
 * The pages in order, each fetched when the previous one has been handled: a caller that stops early
 * (one page only) fetches no more.
 */
export async function* followPages<C extends string | number, P>(f: PageFollowing<C, P>): AsyncGenerator<P, void, undefined> {
  /** The cursors the server has answered, each followed once. */
  const answered = new Set<C>();
  let cursor = f.start;
  for (let pages = 0; ; ) {
    if (pages === MAX_PAGES) {
      throw new CliError('bad_response', `the server at ${f.server} still answers a next page after ${count(pages)} pages (${f.got()}); stopped ${f.task}`);
    }
    const page = await f.fetch(cursor);
    pages += 1;
    yield page;
    const next = f.next(page);
    if (next === null) return;
    if (answered.has(next)) {
      throw new CliError('bad_response', `the server at ${f.server} answered, on page ${count(pages)}, a next-page cursor it had answered before: following it would loop for ever; stopped ${f.task}`);
    }
    answered.add(next);
    cursor = next;
  }
}
