// Reads the YAML configuration file. YAML syntax errors carry line and column; schema errors name the key.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { parseConfig, type EnclaveConfig } from '../core/config.ts';
import { EnclaveError } from '../core/errors.ts';

export function parseConfigText(text: string, source: string, baseDir: string): EnclaveConfig {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const pos = first.linePos?.[0];
    const where = pos ? `:${pos.line}:${pos.col}` : '';
    throw new EnclaveError('invalid_config', `${source}${where}: invalid YAML: ${first.message.split('\n')[0] ?? ''}`, { cause: first });
  }
  const config = parseConfig(doc.toJS({ maxAliasCount: 100 }) as unknown, source);
  const dataDir = isAbsolute(config.dataDir) ? config.dataDir : resolve(baseDir, config.dataDir);
  return { ...config, dataDir };
}

export function loadConfig(path: string): EnclaveConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new EnclaveError(
      code === 'ENOENT' ? 'not_initialized' : 'invalid_config',
      code === 'ENOENT' ? `no configuration at ${path} (run \`enclave init\` or pass --config)` : `cannot read ${path}: ${code ?? 'error'}`,
      { cause },
    );
  }
  return parseConfigText(text, path, dirname(resolve(path)));
}
