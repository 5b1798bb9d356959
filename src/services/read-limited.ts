// Reads an HTTP answer's body (decompressed, as fetch hands it over) up to a limit: an answer from a
// server we do not trust (a log, a witness) must not be able to fill our memory, with an endless body
// or a gzip bomb, before its format is even checked.

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
