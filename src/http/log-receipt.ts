// The receipt a response carries (issue 4, point 2): the indexes of the transparency-log entries the
// request caused, in the `Enclave-Log-Index` header (a comma-separated list, RFC 9110 §5.6.1), on
// successes and on failures alike (a denial is logged too), and as `log_index` in JSON bodies.
import type { FastifyReply } from 'fastify';
import { collectReceipts } from '../services/log-receipts.ts';

export const LOG_INDEX_HEADER = 'enclave-log-index';

/** Runs a request's work, sets the receipt header, and returns the result with the last entry's index. */
export async function withReceipt<T>(reply: FastifyReply, fn: () => Promise<T>): Promise<{ value: T; logIndex: number | undefined }> {
  const out = await collectReceipts(fn);
  if (out.receipts.length > 0) void reply.header(LOG_INDEX_HEADER, out.receipts.join(', '));
  if ('error' in out) throw out.error;
  return { value: out.value, logIndex: out.receipts.at(-1) };
}

/** `value` with its receipt as `log_index` (when the request caused an entry). */
export async function receipted<T extends object>(reply: FastifyReply, fn: () => Promise<T>): Promise<T & { log_index?: number }> {
  const { value, logIndex } = await withReceipt(reply, fn);
  return logIndex === undefined ? value : { ...value, log_index: logIndex };
}
