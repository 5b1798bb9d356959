// Reading from the person at the terminal: a secret without echo, a visible answer, or everything piped in.
import { createInterface } from 'node:readline/promises';
import { CliError } from './fail.ts';
import type { Io } from './io.ts';

const MAX_STDIN = 1024 * 1024;

/** Reads stdin to its end (piped input). */
export async function readStdin(io: Io): Promise<string> {
  let text = '';
  for await (const chunk of io.stdin) {
    text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    if (text.length > MAX_STDIN) throw new CliError('invalid_argument', 'standard input is larger than 1 MiB');
  }
  return text;
}

/** Prompts on stderr and reads one line from a terminal without echoing it. */
export function readHidden(io: Io, prompt: string): Promise<string> {
  const stdin = io.stdin;
  if (stdin.isTTY !== true || stdin.setRawMode === undefined) return Promise.reject(new CliError('invalid_argument', 'no terminal to prompt on'));
  const setRaw = stdin.setRawMode.bind(stdin);
  io.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (outcome: () => void) => {
      stdin.off('data', onData);
      setRaw(false);
      stdin.pause();
      io.stderr.write('\n');
      outcome();
    };
    const onData = (chunk: string | Buffer) => {
      for (const ch of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish(() => resolve(value));
        if (ch === '\u0003') return finish(() => reject(new CliError('aborted', 'interrupted')));
        if (ch === '\u0004') return finish(() => (value === '' ? reject(new CliError('aborted', 'no input')) : resolve(value)));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
      return undefined;
    };
    setRaw(true);
    stdin.setEncoding('utf8');
    stdin.on('data', onData);
    stdin.resume();
  });
}

/** Asks a question on the terminal and returns the answer, trimmed. */
export async function ask(io: Io, question: string): Promise<string> {
  const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: io.stdin.isTTY === true });
  try {
    return (await rl.question(question)).trim();
  } finally {
    rl.close();
  }
}
