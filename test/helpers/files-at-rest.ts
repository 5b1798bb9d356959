// What is at rest under a directory, byte for byte: the scans of the plaintext-at-rest tests (invariant 3).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Every file under `dir`, at any depth, as full paths. */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

/** Files (relative to `dir`) whose bytes contain `needle`: text as UTF-8 or UTF-16LE, bytes as they are. */
export function filesContaining(dir: string, needle: string | Uint8Array): string[] {
  const patterns = typeof needle === 'string' ? [Buffer.from(needle, 'utf8'), Buffer.from(needle, 'utf16le')] : [Buffer.from(needle)];
  return filesUnder(dir)
    .filter((f) => {
      const bytes = readFileSync(f);
      return patterns.some((p) => bytes.includes(p));
    })
    .map((f) => f.slice(dir.length + 1));
}
