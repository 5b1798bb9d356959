// What a client command does with a server that answers 2xx but not as the API documents: JSON of
// another shape is one bad_response line naming the server, not `internal`; a record list whose next
// cursor repeats, or never ends, stops with one line instead of fetching for ever; so does a log search
// following pages (--all).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { killAll, oneErrorLine, run, runInProcess, type RunResult } from './helpers.ts';

const TOKEN = 'enc_Lqic1GTcSw08SyLfr-lV05Z-jOG07nc2oLLiqV5Igho';
/** How many pages record list and log search --all fetch at most (src/cli/follow-pages.ts). */
const MAX_LIST_PAGES = 10_000;

/** What the server answers to the next request: status 200, this JSON text (or a function of the request count). */
let answer: (n: number) => string = () => '{}';
let requests = 0;
let server: Server;
let base = '';

before(async () => {
  server = createServer((_req, res) => {
    requests += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(answer(requests));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  killAll();
  await new Promise((resolve) => server.close(resolve));
});

function answering(body: string | ((n: number) => string)): void {
  requests = 0;
  answer = typeof body === 'string' ? () => body : body;
}

/** One bad_response line naming the server, exit 1. */
function badResponse(r: RunResult, args: readonly string[]): string {
  assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
  const { code, message } = oneErrorLine(r);
  assert.equal(code, 'bad_response', `${args.join(' ')}: ${r.stderr}`);
  assert.ok(message.includes(base), message);
  return message;
}

describe('a 2xx answer of another shape than the API documents', () => {
  const cases: readonly [string, readonly string[]][] = [
    ['{"id":5}', ['record', 'get', 'users', 'u-1']],
    ['{"records":[{"id":"r"}],"next":null}', ['record', 'list', 'u-1']],
    ['{"tokens":null}', ['token', 'list']],
    ['{"requests":null}', ['access', 'list']],
    ['{}', ['policy', 'show']],
  ];
  for (const [body, args] of cases) {
    it(`${args.join(' ')} answered ${body}: one bad_response line, not internal`, async () => {
      answering(body);
      const all = [...args, '--server', base, '-t', TOKEN];
      const message = badResponse(await runInProcess(all), all);
      assert.match(message, /another shape than this CLI expects/);
    });
  }

  it('JSON that is not an object at all (null, a list, a number): the same', async () => {
    for (const body of ['null', '[]', '5', '"ok"']) {
      answering(body);
      const args = ['record', 'get', 'users', 'u-1', '--server', base, '-t', TOKEN];
      assert.match(badResponse(await runInProcess(args), args), /JSON that is not an object/);
    }
  });
});

describe('record list follows the next cursor only while the server makes progress', () => {
  it('a cursor answered twice stops the listing at once, with one line', async () => {
    answering('{"records":[],"next":"c1"}');
    const args = ['record', 'list', 'u-1', '--server', base, '-t', TOKEN];
    // A child process, ended if it does not stop by itself (the old behaviour: for ever).
    const message = badResponse(await run(args, { timeoutMs: 30_000 }), args);
    assert.match(message, /cursor it had answered before/);
    assert.equal(requests, 2);
  });

  it('a page without a next cursor (neither a string nor null) stops it too', async () => {
    for (const body of ['{"records":[]}', '{"records":[],"next":7}', '{"records":"x","next":null}']) {
      answering(body);
      const args = ['record', 'list', 'u-1', '--server', base, '-t', TOKEN];
      assert.match(badResponse(await run(args, { timeoutMs: 30_000 }), args), /without a records list and a next cursor/);
      assert.equal(requests, 1);
    }
  });

  it('a cursor that comes back later (c1, c2, c1) is caught too', async () => {
    answering((n) => `{"records":[],"next":"c${n % 2}"}`);
    const args = ['record', 'list', 'u-1', '--server', base, '-t', TOKEN];
    assert.match(badResponse(await run(args, { timeoutMs: 30_000 }), args), /cursor it had answered before/);
    assert.equal(requests, 3);
  });

  it(`new cursors without end stop after ${MAX_LIST_PAGES.toLocaleString('en-US')} pages`, async () => {
    answering((n) => `{"records":[],"next":"c${n}"}`);
    const args = ['record', 'list', 'u-1', '--server', base, '-t', TOKEN];
    assert.match(badResponse(await run(args, { timeoutMs: 120_000 }), args), /still answers a next page after 10,000 pages/);
    assert.equal(requests, MAX_LIST_PAGES);
  });
});

/** A search page as the API documents it, empty (nothing to prove before a first checkpoint), with this next cursor. */
function searchPage(next: number | null): string {
  return JSON.stringify({ checkpoint: null, size: 0, results: [], next });
}

describe('log search --all follows the next cursor only while the server makes progress', () => {
  // Made in each test: `base` is known once the server listens.
  const searching = () => ['log', 'search', '--all', '--quiet', '--server', base, '-t', TOKEN];

  // First: a search that never stopped (before the fix) leaves no request in flight to be counted here.
  it('without --all, one page is fetched and the next cursor is only named', async () => {
    answering(searchPage(7));
    const one = ['log', 'search', '--server', base, '-t', TOKEN];
    const r = await runInProcess(one);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /more results: --after 7 \(or --all\)/);
    assert.equal(requests, 1);
  });

  it('a cursor answered twice stops the search at once, with one line', async () => {
    answering(searchPage(7));
    const message = badResponse(await run(searching(), { timeoutMs: 30_000 }), searching());
    assert.match(message, /cursor it had answered before: following it would loop for ever; stopped searching/);
    assert.equal(requests, 2);
  });

  it('a cursor that comes back later (1, 0, 1) is caught too', async () => {
    answering((n) => searchPage(n % 2));
    assert.match(badResponse(await run(searching(), { timeoutMs: 30_000 }), searching()), /cursor it had answered before/);
    assert.equal(requests, 3);
  });

  it(`new cursors without end stop after ${MAX_LIST_PAGES.toLocaleString('en-US')} pages`, async () => {
    answering((n) => searchPage(n));
    assert.match(badResponse(await run(searching(), { timeoutMs: 120_000 }), searching()), /still answers a next page after 10,000 pages \(0 entries found\); stopped searching/);
    assert.equal(requests, MAX_LIST_PAGES);
  });
});

describe('a server that answers with a redirect', () => {
  it('is not followed: an unseal share or a token is never sent where it points, and the command says where it pointed', async () => {
    let elsewhere = 0;
    const other = createServer((req, res) => {
      elsewhere += 1;
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const target = `http://127.0.0.1:${(other.address() as AddressInfo).port}/v1/sys/unseal`;
    const redirecting = createServer((req, res) => {
      req.resume();
      res.writeHead(307, { location: target }).end();
    });
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
    const at = `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}`;
    try {
      for (const args of [['unseal', '--share', `enclave-share-v1-${'A'.repeat(44)}`], ['token', 'list', '-t', TOKEN]]) {
        const r = await run([...args, '--server', at]);
        assert.equal(r.code, 1, r.stderr);
        const { code, message } = oneErrorLine(r);
        assert.equal(code, 'bad_response');
        assert.match(message, /answered with a redirect \(HTTP 307 to http:\/\/127\.0\.0\.1:\d+\/v1\/sys\/unseal\), which the CLI does not follow/);
      }
      assert.equal(elsewhere, 0, 'nothing reached the address the redirect pointed to');
    } finally {
      await new Promise((resolve) => redirecting.close(resolve));
      await new Promise((resolve) => other.close(resolve));
    }
  });
});
