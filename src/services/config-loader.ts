// Reads the YAML configuration file. YAML syntax errors carry line and column; schema errors name the key.
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { parseConfig, type EnclaveConfig } from '../core/config.ts';
import { EnclaveError } from '../core/errors.ts';
import { readFileLimited } from './read-limited.ts';

/** Parses YAML to plain data; syntax errors carry line and column and are raised with `code`. */
export function parseYaml(text: string, source: string, code: 'invalid_config' | 'invalid_mapping'): unknown {
  // With prettyErrors off, yaml sets no linePos on its errors; a LineCounter maps offsets to line:col.
  const lineCounter = new LineCounter();
  // logLevel error: yaml's own warnings (a key that is a collection) are not printed by Node as a
  // process warning on stderr; the schema names such a key as unknown.
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter, logLevel: 'error' });
  // A tag that resolves to nothing (`!!js/function`, `!mine`) is only a warning to yaml, which then
  // reads the value as if untagged: refused, as what it was meant to be cannot be known.
  const first = doc.errors[0] ?? doc.warnings.find((w) => w.code === 'TAG_RESOLVE_FAILED');
  if (first) {
    const pos = first.linePos?.[0] ?? lineCounter.linePos(first.pos[0]);
    const where = `:${pos.line}:${pos.col}`;
    throw new EnclaveError(code, `${source}${where}: invalid YAML: ${first.message.split('\n')[0] ?? ''}`, { cause: first });
  }
  try {
    // Aliases are resolved here: an unresolved alias or an alias bomb throws a plain ReferenceError.
    return doc.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (cause) {
    throw new EnclaveError(code, `${source}: invalid YAML: ${cause instanceof Error ? cause.message : 'cannot be read'}`, { cause });
  }
}

/** A file's bytes as text; refuses what is not UTF-8 rather than reading it with replaced characters. */
export function decodeUtf8(bytes: Uint8Array, source: string, code: 'invalid_config' | 'invalid_mapping'): string {
  try {
    // A UTF-8 byte order mark is dropped; a UTF-16 one is not UTF-8 and fails.
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new EnclaveError(code, `${source} is not UTF-8 text; save it as UTF-8`, { cause });
  }
}

/** The largest configuration file read (the starter is about 9 KiB). */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

export function parseConfigText(text: string, source: string, baseDir: string): EnclaveConfig {
  const config = parseConfig(parseYaml(text, source, 'invalid_config'), source);
  const against = (path: string) => (isAbsolute(path) ? path : resolve(baseDir, path));
  const tls = config.server.tls;
  return {
    ...config,
    dataDir: against(config.dataDir),
    server: { ...config.server, tls: tls === undefined ? undefined : { ...tls, certFile: against(tls.certFile), keyFile: against(tls.keyFile), clientCaFile: tls.clientCaFile === undefined ? undefined : against(tls.clientCaFile) } },
  };
}

export function loadConfig(path: string): EnclaveConfig {
  let bytes: Buffer | undefined;
  try {
    bytes = readFileLimited(path, MAX_CONFIG_BYTES);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new EnclaveError(
      code === 'ENOENT' ? 'not_initialized' : 'invalid_config',
      code === 'ENOENT' ? `no configuration at ${path} (run \`enclave init\` or pass --config)` : `cannot read ${path}: ${code ?? 'error'}`,
      { cause },
    );
  }
  if (bytes === undefined) throw new EnclaveError('invalid_config', `${path} is larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB; is it the configuration file?`);
  return parseConfigText(decodeUtf8(bytes, path, 'invalid_config'), path, dirname(resolve(path)));
}
