// Reads up to a limit: an HTTP answer's body (decompressed, as fetch hands it over) from a server we do
// not trust (a log, a witness), or a file a person named (a configuration, a mapping, --file), must not
// be able to fill our memory, with an endless body, a gzip bomb or /dev/zero, before its format is checked.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** The body's bytes, or undefined once it exceeds `maxBytes` (the rest is not read; the connection is dropped). */
export async function readLimited(res: Response, maxBytes: number): Promise<Uint8Array | undefined> {
  if (res.body === null) return new Uint8Array(0);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

/**
 * A file's bytes, or undefined if it holds more than `maxBytes`: a regular file is measured before it is
 * read, anything else (a pipe, /dev/zero) is read no further than the limit. Errors of the file system
 * (ENOENT, EISDIR, EACCES) are thrown as they are.
 */
export function readFileLimited(path: string, maxBytes: number): Buffer | undefined {
  const fd = openSync(path, 'r');
  try {
    if (fstatSync(fd).size > maxBytes) return undefined;
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      // At most one byte past the limit: enough to know the file is larger.
      const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, maxBytes + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) return Buffer.concat(chunks, total);
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > maxBytes) return undefined;
    }
  } finally {
    closeSync(fd);
  }
}
