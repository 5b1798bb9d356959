// Reads a migration mapping file (YAML): syntax errors carry line and column, schema errors name the
// table and column (core/migration-mapping.ts).
import { createHash } from 'node:crypto';
import { EnclaveError } from '../../core/errors.ts';
import { parseMapping, type MigrationMapping } from '../../core/migration-mapping.ts';
import { decodeUtf8, MAX_CONFIG_BYTES, parseYaml } from '../config-loader.ts';
import { readFileLimited } from '../read-limited.ts';

export const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

export function parseMappingText(text: string, source: string): MigrationMapping {
  return parseMapping(parseYaml(text, source, 'invalid_mapping'), source, sha256Hex);
}

export function loadMapping(path: string): MigrationMapping {
  let bytes: Buffer | undefined;
  try {
    // Bounded as the configuration is: a mapping is a few KiB, and a pipe or a device is read no further.
    bytes = readFileLimited(path, MAX_CONFIG_BYTES);
  } catch (cause) {
    throw new EnclaveError('invalid_mapping', `cannot read the mapping ${path}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`, { cause });
  }
  if (bytes === undefined) throw new EnclaveError('invalid_mapping', `${path} is larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB; is it the mapping file?`);
  return parseMappingText(decodeUtf8(bytes, path, 'invalid_mapping'), path);
}
