// What a server under test is to the bench, and the IPC messages between it and the bench process.
import type { FastifyInstance } from 'fastify';

export type ServerKind = 'baseline' | 'gated';

export interface BenchServer {
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

/** Parent → server. */
export type ControlMessage =
  | { readonly type: 'stop' }
  | { readonly type: 'profile-start' }
  | { readonly type: 'memory' }
  | { readonly type: 'profile-stop'; readonly file: string };

/** Server → parent. */
export type ServerMessage =
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'profiling' }
  | { readonly type: 'profile-written'; readonly file: string }
  | { readonly type: 'memory'; readonly heap: HeapReport };

/** The server's own view of its memory, bytes. */
export interface HeapReport {
  /** Physical size of the V8 young generation (new space). */
  readonly youngGeneration: number;
  /** Physical size of every other V8 heap space (old, code, large objects...). */
  readonly otherHeapSpaces: number;
  /** Live JavaScript objects. */
  readonly heapUsed: number;
  /** Memory of C++ objects bound to JavaScript objects (Buffers, crypto, ...), as V8 is told of it. */
  readonly external: number;
}
