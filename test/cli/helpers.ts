// Runs the real `enclave` CLI: as a child process (`node src/cli/main.ts …` from the repository root),
// or in-process against in-memory streams. Every spawned process is tracked so `after` hooks can kill
// whatever a failing test left running.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Io } from '../../src/cli/io.ts';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join('src', 'cli', 'main.ts');

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

const live = new Set<ChildProcess>();

/** The environment of the tests without ENCLAVE_* variables, plus `extra`. */
function cleanEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  // Without the variables the CLI reads or sets itself (MALLOC_ARENA_MAX: heap-limits.ts), so tests see its defaults.
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ENCLAVE_') && !k.startsWith('NODE_TEST') && k !== 'MALLOC_ARENA_MAX') env[k] = v;
  return { ...env, ...extra };
}

function spawnCli(args: readonly string[], env: Readonly<Record<string, string>> | undefined): ChildProcess {
  const child = spawn(process.execPath, [MAIN, ...args], { cwd: REPO, env: cleanEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Runs one command to completion; stdin gets `input` (or nothing) and is closed. */
export function run(args: readonly string[], options: { input?: string; env?: Readonly<Record<string, string>>; timeoutMs?: number } = {}): Promise<RunResult> {
  const started = begin(args, options);
  started.child.stdin?.end(options.input ?? '');
  return started.done;
}

/** Starts one command with its stdin left open (the caller writes and ends it); `done` settles as `run`. */
export function begin(args: readonly string[], options: { env?: Readonly<Record<string, string>>; timeoutMs?: number } = {}): { child: ChildProcess; done: Promise<RunResult> } {
  const child = spawnCli(args, options.env);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<RunResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`enclave ${args.join(' ')} did not finish in time; stdout: ${stdout} stderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

export interface LongRunning {
  readonly url: string;
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** The signal that ended the process, if one did (then the exit code is null). */
  signal(): NodeJS.Signals | null;
  /** Sends the signal and waits for the exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `serve` or `demo` and waits for its "Listening on <url>" line. */
export function startListening(args: readonly string[], options: { env?: Readonly<Record<string, string>>; timeoutMs?: number } = {}): Promise<LongRunning> {
  const child = spawnCli(args, options.env);
  child.stdin?.end();
  let stdout = '';
  let stderr = '';
  let endedBy: NodeJS.Signals | null = null;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => {
      endedBy = signal;
      resolve(code);
    }),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`enclave ${args.join(' ')} did not start listening; stdout: ${stdout} stderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      const m = /Listening on (https?:\/\/\S+)/.exec(stdout);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve({
          url: m[1],
          child,
          stdout: () => stdout,
          stderr: () => stderr,
          signal: () => endedBy,
          async stop(signal: NodeJS.Signals = 'SIGTERM') {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`enclave ${args.join(' ')} exited (${String(code)}) before listening; stdout: ${stdout} stderr: ${stderr}`));
    });
  });
}

/** Kills every CLI process still running (for `after` hooks). */
export function killAll(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

export function tempDir(prefix = 'enclave-cli-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A temporary directory for the enclosing suite, made before its tests and removed (its CLI processes killed) after: call inside describe. */
export function suiteDir(): () => string {
  let root: string | undefined;
  before(() => {
    root = tempDir();
  });
  after(() => {
    killAll();
    if (root !== undefined) removeDir(root);
  });
  return () => {
    if (root === undefined) throw new Error('suiteDir: the directory is made in before()');
    return root;
  };
}

/**
 * `enclave init` (with `args`) in a temporary directory, as `<dir>/a`, before the enclosing suite's tests
 * (call inside describe, or at the top of a file); the directory is removed and its CLI processes killed
 * after. The fields are filled in by the time the tests run.
 */
export function initializedEnclave(args: readonly string[] = []): { readonly dir: string; readonly config: string } {
  const made = { dir: '', config: '' };
  before(async () => {
    made.dir = tempDir();
    const init = await run(['init', '--dir', join(made.dir, 'a'), ...args]);
    assert.equal(init.code, 0, init.stderr);
    made.config = join(made.dir, 'a', 'enclave.yaml');
  });
  after(() => {
    killAll();
    removeDir(made.dir);
  });
  return made;
}

/** Whether `done` holds within `ms`, checked every 50 ms. */
export async function waitFor(done: () => boolean, ms = 5000): Promise<boolean> {
  for (let waited = 0; !done() && waited < ms; waited += 50) await new Promise((r) => setTimeout(r, 50));
  return done();
}

/** The non-empty lines of a text. */
export function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '');
}

/** Asserts the shape of a CLI failure: exactly one line on stderr, `enclave: <code>: …`, no stack trace. */
export function oneErrorLine(result: RunResult): { code: string; message: string } {
  const l = lines(result.stderr);
  if (l.length !== 1) throw new Error(`expected one line on stderr, got ${l.length}: ${result.stderr}`);
  if (/\n\s+at /.test(result.stderr) || /\.ts:\d+/.test(result.stderr)) throw new Error(`stack trace on stderr: ${result.stderr}`);
  const m = /^enclave: ([a-z_]+): (.+)$/.exec(l[0] ?? '');
  if (!m?.[1] || !m[2]) throw new Error(`not an "enclave: <code>: <message>" line: ${l[0] ?? ''}`);
  return { code: m[1], message: m[2] };
}

export interface MemoryIo extends Io {
  out(): string;
  err(): string;
}

/** In-memory streams for running the CLI in-process. */
export function memoryIo(options: { stdin?: PassThrough } = {}): MemoryIo {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const stdin = options.stdin ?? new PassThrough();
  if (!options.stdin) stdin.end();
  return { stdin, stdout, stderr, out: () => out, err: () => err };
}

/** Runs the CLI in this process against memory streams (after one turn, for output written at exit). */
export async function runInProcess(args: readonly string[]): Promise<RunResult & { code: number }> {
  // Loaded on first use: the tests that only spawn the CLI do not load it into their own process.
  const { runCli } = await import('../../src/cli/program.ts');
  const io = memoryIo();
  const code = await runCli([...args], io);
  await new Promise((r) => setImmediate(r));
  return { code, signal: null, stdout: io.out(), stderr: io.err() };
}
