import type { Io } from './io.ts';

/** What every command registrar receives. */
export interface CliContext {
  readonly io: Io;
}
