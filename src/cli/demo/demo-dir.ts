// The demo's directory is wiped and recreated on every run, so the demo refuses to touch a directory it
// did not create: it must be absent, empty, or carry the marker file the demo writes.
import { existsSync, lstatSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnclaveError } from '../../core/errors.ts';
import { makeDirectories, PathStepError } from '../../storage/private-files.ts';

export const DEMO_MARKER = '.enclave-demo';

export function prepareDemoDir(dir: string): void {
  if (existsSync(dir)) {
    const stat = lstatSync(dir);
    if (!stat.isDirectory()) throw new EnclaveError('invalid_argument', `--dir ${dir} exists and is not a directory; choose another --dir`);
    const entries = readdirSync(dir);
    if (entries.length > 0 && !entries.includes(DEMO_MARKER)) {
      throw new EnclaveError('invalid_argument', `refusing to wipe ${dir}: it was not created by \`enclave demo\` (no ${DEMO_MARKER} marker); choose another --dir`);
    }
    rmSync(dir, { recursive: true, force: true });
  }
  try {
    // One directory at a time: never hangs (Node's recursive mkdir loops for ever under /proc).
    makeDirectories(dir, 0o700);
  } catch (err) {
    if (err instanceof PathStepError) throw new EnclaveError('invalid_argument', `--dir ${dir}: ${err.why}; choose another --dir`, { cause: err.cause });
    throw err;
  }
  writeFileSync(
    join(dir, DEMO_MARKER),
    `Created by \`enclave demo\` at ${new Date().toISOString()}. The demo wipes and recreates this directory on every run.\n`,
  );
}
