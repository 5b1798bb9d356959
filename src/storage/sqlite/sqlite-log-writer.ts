// The log store's writer thread: it owns the write connection of the log's database file and runs
// each write (sqlite-log-writes.ts) when asked, so the commit and its fsync happen off the event loop.
// Messages: { id, op, args } in; { id, result } or { id, error: { message, code? } } out; 'close' ends it.
import { parentPort, workerData } from 'node:worker_threads';
import { isEnclaveError } from '../../core/errors.ts';
import { openSqliteDatabase } from './sqlite-db.ts';
import { SqliteLogWrites, type LogWriteOp } from './sqlite-log-writes.ts';

interface Request {
  readonly id: number;
  readonly op: LogWriteOp;
  readonly args: readonly unknown[];
}

const port = parentPort;
if (port === null) throw new Error('sqlite-log-writer.ts runs as a worker thread');
const db = openSqliteDatabase((workerData as { path: string }).path);
const writes = new SqliteLogWrites(db);

port.on('message', (m: Request | 'close') => {
  if (m === 'close') {
    writes.close();
    db.close();
    port.close();
    return;
  }
  try {
    port.postMessage({ id: m.id, result: writes.dispatch(m.op, m.args) });
  } catch (err) {
    port.postMessage({ id: m.id, error: { message: err instanceof Error ? err.message : String(err), ...(isEnclaveError(err) ? { code: err.code } : {}) } });
  }
});
