// Receipts of the log entries one request caused, without threading them through every service call:
// the HTTP layer runs a request's work inside `collectReceipts`, and every durable append made on its
// behalf (by the vault, the seal, the token service) notes its index there. Outside such a scope, noting
// is a no-op.
import { AsyncLocalStorage } from 'node:async_hooks';

const scope = new AsyncLocalStorage<number[]>();

/** Runs `fn` and collects the indexes of the log entries appended for it, in order, even when it fails. */
export async function collectReceipts<T>(fn: () => Promise<T>): Promise<{ value: T; receipts: readonly number[] } | { error: unknown; receipts: readonly number[] }> {
  const receipts: number[] = [];
  try {
    return { value: await scope.run(receipts, fn), receipts };
  } catch (error) {
    return { error, receipts };
  }
}

/** Notes a durable entry's index in the current scope, if any. */
export function noteReceipt(index: number): void {
  scope.getStore()?.push(index);
}
