// The parent's handle on a server process: fork it, wait for its port, drive its profiler, stop it.
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { heapFlags, missingEnv, missingHeapFlags, serverEnv } from '../src/cli/heap-limits.ts';
import { withCompileCache } from '../bin/compile-cache.js';
import { loadConfig } from '../src/services/config-loader.ts';
import type { ControlMessage, HeapReport, ServerKind, ServerMessage } from './servers/bench-server.ts';

const ENTRY = join(import.meta.dirname, 'server-main.ts');

export interface ServerProcess {
  readonly kind: ServerKind;
  readonly pid: number;
  /** The Node flags it runs with. */
  readonly nodeFlags: readonly string[];
  /** The variables it runs with besides the bench's own environment (those `enclave serve` adds). */
  readonly addedEnv: Readonly<Record<string, string>>;
  readonly port: number;
  readonly url: string;
  /** The server's V8 heap as it sees it. */
  heap(): Promise<HeapReport>;
  startProfile(): Promise<void>;
  /** Stops the profiler and waits until the server has written the .cpuprofile to `file`. */
  stopProfile(file: string): Promise<void>;
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function reply<T extends ServerMessage['type']>(child: ChildProcess, kind: ServerKind, type: T): Promise<Extract<ServerMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: ServerMessage) => {
      if (m.type === 'failed') done(new Error(`${kind} server: ${m.message}`));
      else if (m.type === type) done(undefined, m as Extract<ServerMessage, { type: T }>);
    };
    const onExit = (code: number | null) => done(new Error(`${kind} server exited (code ${String(code)}) while the bench waited for "${type}"`));
    const done = (err?: Error, m?: Extract<ServerMessage, { type: T }>) => {
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (m) resolve(m);
      else reject(err ?? new Error('no reply'));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/**
 * The gated server runs as `enclave serve` does: with the heap flags of its configuration, except those a
 * trial's `nodeFlags` set (flags the operator passes win there too). The baseline gets only `nodeFlags`.
 */
export function serverNodeFlags(kind: ServerKind, target: string, nodeFlags: readonly string[] = []): string[] {
  if (kind !== 'gated') return [...nodeFlags];
  return [...nodeFlags, ...missingHeapFlags(heapFlags(loadConfig(target).server), nodeFlags, '')];
}

/** `nodeFlags` are a trial's Node flags for the server (none by default, so the server runs as the product does). */
export async function startServerProcess(kind: ServerKind, target: string, nodeFlags: readonly string[] = []): Promise<ServerProcess> {
  const flags = serverNodeFlags(kind, target, nodeFlags);
  // With Node's compile cache, as bin/enclave.js runs `enclave serve`, and the gated server with the
  // environment `enclave serve` adds (heap-limits.ts).
  const addedEnv = kind === 'gated' ? missingEnv(serverEnv()) : {};
  const child = fork(ENTRY, [kind, target], { execArgv: flags, env: { ...withCompileCache(), ...addedEnv }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start the ${kind} server process`);
  const { port } = await reply(child, kind, 'listening');
  const send = (m: ControlMessage) => child.send(m);
  return {
    kind,
    pid,
    nodeFlags: flags,
    addedEnv,
    port,
    url: `http://127.0.0.1:${port}`,
    async heap() {
      const answer = reply(child, kind, 'memory');
      send({ type: 'memory' });
      return (await answer).heap;
    },
    async startProfile() {
      const ack = reply(child, kind, 'profiling');
      send({ type: 'profile-start' });
      await ack;
    },
    async stopProfile(file) {
      const written = reply(child, kind, 'profile-written');
      send({ type: 'profile-stop', file });
      await written;
    },
    async stop() {
      const done = exited(child);
      if (child.connected) send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await done;
      clearTimeout(timer);
    },
  };
}
