// Entry point of the server process (one per measured server, separate from the load generator):
//   node bench/server-main.ts baseline <site.db> | gated <enclave.yaml>
// Listens on an ephemeral loopback port, reports it over IPC, profiles on request, and exits cleanly on
// "stop".
import type { AddressInfo } from 'node:net';
import { getHeapSpaceStatistics } from 'node:v8';
import { CpuProfiler } from './cpu-profiler.ts';
import type { BenchServer, ControlMessage, HeapReport, ServerMessage } from './servers/bench-server.ts';
import { buildBaselineServer } from './servers/baseline.ts';
import { buildGatedServer } from './servers/gated.ts';

function heapReport(): HeapReport {
  const spaces = getHeapSpaceStatistics();
  const young = spaces.filter((x) => x.space_name === 'new_space' || x.space_name === 'new_large_object_space').reduce((n, x) => n + x.physical_space_size, 0);
  const all = spaces.reduce((n, x) => n + x.physical_space_size, 0);
  const usage = process.memoryUsage();
  return { youngGeneration: young, otherHeapSpaces: all - young, heapUsed: usage.heapUsed, external: usage.external };
}

function tell(message: ServerMessage): void {
  process.send?.(message);
}

async function serve(kind: string | undefined, target: string | undefined): Promise<void> {
  if (target === undefined || (kind !== 'baseline' && kind !== 'gated')) throw new Error('usage: node bench/server-main.ts baseline <site.db> | gated <enclave.yaml>');
  const server: BenchServer = kind === 'baseline' ? buildBaselineServer(target) : await buildGatedServer(target);
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = server.app.server.address() as AddressInfo;
  const profiler = new CpuProfiler();
  const shutdown = () => void server.close().then(() => process.exit(0));
  process.on('message', (message: ControlMessage) => {
    switch (message.type) {
      case 'stop':
        shutdown();
        break;
      case 'memory':
        tell({ type: 'memory', heap: heapReport() });
        break;
      case 'profile-start':
        void profiler.start().then(() => tell({ type: 'profiling' }));
        break;
      case 'profile-stop':
        void profiler.stop(message.file).then(() => tell({ type: 'profile-written', file: message.file }));
        break;
    }
  });
  process.on('disconnect', shutdown);
  tell({ type: 'listening', port });
}

try {
  const [kind, target] = process.argv.slice(2);
  await serve(kind, target);
} catch (err) {
  tell({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  process.exitCode = 1;
  process.disconnect?.();
}
