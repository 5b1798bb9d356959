// What it means when the reader of stdout goes away (EPIPE: `enclave … | head -1`). For a command that
// prints and ends, the reader has what it wanted, and main.ts ends the process quietly with success. A
// server is different: whoever reads its log is not whoever uses its API, so it keeps serving and stops
// only on SIGINT or SIGTERM, as before the pipe broke. Fastify's logger (pino) already drops its request
// log lines once the pipe is broken; the transparency log, not stdout, is the record of what was decided.
let serving: (() => void) | undefined;

/** Called by main.ts on EPIPE on stdout: true if the command goes on (a server), false if the process should end. */
export function stdoutClosed(): boolean {
  if (serving === undefined) return false;
  serving();
  return true;
}

/** While a server runs, an EPIPE on stdout does not end the process; `onClosed` is told of it. Returns the undo. */
export function keepServingWhenStdoutCloses(onClosed: () => void): () => void {
  serving = onClosed;
  return () => {
    if (serving === onClosed) serving = undefined;
  };
}
