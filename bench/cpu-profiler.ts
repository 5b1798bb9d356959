// The V8 CPU profiler (the one behind `node --cpu-prof`), driven through node:inspector so that a server
// process can profile exactly the measured window, without its start-up.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

export class CpuProfiler {
  private session: Session | undefined;

  async start(samplingIntervalMicros = 200): Promise<void> {
    if (this.session) throw new Error('the profiler is already running');
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: samplingIntervalMicros });
    await session.post('Profiler.start');
    this.session = session;
  }

  /** Stops and writes the profile (.cpuprofile, loadable in Chrome DevTools) to `file`. */
  async stop(file: string): Promise<void> {
    const session = this.session;
    if (!session) throw new Error('the profiler is not running');
    this.session = undefined;
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    writeFileSync(file, JSON.stringify(profile));
  }
}
