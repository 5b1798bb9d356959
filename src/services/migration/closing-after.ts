// Runs work that opens resources one after another, and closes them afterwards in reverse order, each
// once, whatever happened. Once the work succeeded, a close that fails is told to `warn` rather than
// thrown: the work's result (a purge's certificate, say) is not lost to the tidying after it. After a
// failure, the failure is what is thrown, not a close's.
export async function closingAfter<T>(work: (opened: (close: () => Promise<void>) => void) => Promise<T>, warn: (err: unknown) => void): Promise<T> {
  const closers: (() => Promise<void>)[] = [];
  let succeeded = false;
  try {
    const result = await work((close) => closers.push(close));
    succeeded = true;
    return result;
  } finally {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (err) {
        if (succeeded) warn(err);
      }
    }
  }
}
