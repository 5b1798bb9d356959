// Reads a migration mapping file (YAML): syntax errors carry line and column, schema errors name the
// table and column (core/migration-mapping.ts).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { EnclaveError } from '../../core/errors.ts';
import { parseMapping, type MigrationMapping } from '../../core/migration-mapping.ts';
import { decodeUtf8, parseYaml } from '../config-loader.ts';

export const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

export function parseMappingText(text: string, source: string): MigrationMapping {
  return parseMapping(parseYaml(text, source, 'invalid_mapping'), source, sha256Hex);
}

export function loadMapping(path: string): MigrationMapping {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (cause) {
    throw new EnclaveError('invalid_mapping', `cannot read the mapping ${path}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`, { cause });
  }
  return parseMappingText(decodeUtf8(bytes, path, 'invalid_mapping'), path);
}
