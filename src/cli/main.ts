// Entry point of the `enclave` command (bin/enclave.js, `npm start`, `npm run enclave`).
import { processIo } from './io.ts';
import { runCli } from './program.ts';

const code = await runCli(process.argv.slice(2), processIo());
// Exit explicitly once the output is flushed: an idle keep-alive socket or a paused stdin must not keep
// a finished command alive.
const flushed = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => stream.write('', () => resolve()));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
