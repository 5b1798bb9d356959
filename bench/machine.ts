// What the figures were measured on: CPU model, cores, memory, Node, SQLite and OS.
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { DatabaseSync } from 'node:sqlite';

export interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly sqlite: string;
  readonly os: string;
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) return m[1].trim();
  } catch {
    // not Linux: fall back to what Node reports
  }
  return cpus()[0]?.model ?? 'unknown';
}

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (m?.[1]) return `${m[1]}, Linux ${release()}`;
  } catch {
    // fall through
  }
  return `${process.platform} ${release()}`;
}

function sqliteVersion(): string {
  const db = new DatabaseSync(':memory:');
  try {
    return String((db.prepare('select sqlite_version() as v').get() as { v: string }).v);
  } finally {
    db.close();
  }
}

export function describeMachine(): Machine {
  return {
    cpuModel: cpuModel(),
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    sqlite: sqliteVersion(),
    os: osName(),
  };
}
