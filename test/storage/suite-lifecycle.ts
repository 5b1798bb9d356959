// What the Store and LogStore conformance suites share: a store opened before each test and closed after
// it, a namespace unique to the test (so a shared database works: no test sees another's rows), and the
// adapter's cleanup once after the suite. Call it inside the suite's describe.
import { randomBytes } from 'node:crypto';
import { after, afterEach, beforeEach } from 'node:test';

export function openPerTest<S extends { close(): Promise<void> }>(open: () => Promise<S> | S, cleanup: (() => Promise<void>) | undefined, use: (store: S, ns: string) => void): void {
  let store: S | undefined;
  beforeEach(async () => {
    store = await open();
    use(store, `t${randomBytes(6).toString('hex')}`);
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });
  if (cleanup) after(cleanup);
}
