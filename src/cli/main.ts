// Entry point of the `enclave` command (bin/enclave.js, `npm start`, `npm run enclave`).
import { stdoutClosed } from './broken-pipe.ts';
import { EXIT_OK } from './fail.ts';
import { processIo } from './io.ts';
import { runCli } from './program.ts';

// A reader that stops early (`enclave … | head -1`) closes the pipe. Node ignores SIGPIPE, so the write
// fails with EPIPE, which unhandled prints a stack trace: end quietly instead, as the reader has what it
// wanted; but a server keeps serving (broken-pipe.ts). On stderr there is no one left to tell, so the
// command ends with its own exit code.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  if (!stdoutClosed()) process.exit(EXIT_OK);
});
process.stderr.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});

const code = await runCli(process.argv.slice(2), processIo());
// Exit explicitly once the output is flushed: an idle keep-alive socket or a paused stdin must not keep
// a finished command alive.
const flushed = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => stream.write('', () => resolve()));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
