// Seeds the benchmark data set through the vault's bulk import (residency, validation, decisions and
// sealing exactly as in production), then writes the manifest. Run as its own process by run.ts so the
// load generator's process starts clean; progress goes to stderr.
import { mkdirSync, rmSync } from 'node:fs';
import { loadConfig } from '../src/services/config-loader.ts';
import type { Principal } from '../src/core/principal.ts';
import { openEnclave, type Enclave } from '../src/services/enclave.ts';
import { initEnclave } from '../src/services/init-service.ts';
import { readDevShares } from '../src/services/dev-shares.ts';
import { sqlitePathOf } from '../src/storage/open-store.ts';
import { BENCH_PURPOSE, datasetKey, recordCount, recordRef, SUBJECT_COUNTRY, snapshotSeededLog, subjectId, writeManifest, type DatasetSpec, type Manifest } from './dataset.ts';
import { messageData, userData } from './synthetic.ts';

const SUBJECTS_PER_BATCH = 1000;

/** Imports the synthetic subjects and records of `spec` through the vault, reporting progress on stderr. */
export async function importSynthetic(enclave: Enclave, principal: Principal, spec: DatasetSpec, started = performance.now()): Promise<void> {
  const total = recordCount(spec);
  let done = 0;
  let lastReport = 0;
  for (let first = 0; first < spec.subjects; first += SUBJECTS_PER_BATCH) {
    const end = Math.min(first + SUBJECTS_PER_BATCH, spec.subjects);
    const subjects: { id: string; country: string }[] = [];
    const users: { id: string; data: unknown }[] = [];
    const messages: { id: string; data: unknown }[] = [];
    for (let i = first; i < end; i++) {
      const s = subjectId(i);
      subjects.push({ id: s, country: SUBJECT_COUNTRY });
      users.push({ id: recordRef(i, 0).id, data: userData(i, s) });
      for (let k = 1; k < spec.recordsPerSubject; k++) messages.push({ id: recordRef(i, k).id, data: messageData(i, k, s, spec.subjects) });
    }
    const imported = [
      await enclave.vault.importSubjects(principal, subjects),
      await enclave.vault.importRecords(principal, 'users', users),
      await enclave.vault.importRecords(principal, 'messages', messages),
    ];
    const refused = imported.flatMap((r) => r.refused);
    if (refused.length > 0) throw new Error(`seeding refused ${refused.length} items, first: ${JSON.stringify(refused[0])}`);
    done += users.length + messages.length;
    const now = performance.now();
    if (now - lastReport > 500 || done === total) {
      lastReport = now;
      const rate = done / ((now - started) / 1000);
      process.stderr.write(`\rseeding ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} records (${Math.round(rate).toLocaleString('en-US')}/s)   `);
    }
  }
  process.stderr.write('\n');
}

export interface SeededEnclave {
  readonly enclave: Enclave;
  readonly configPath: string;
  /** The benchmark platform service's bearer token. */
  readonly token: string;
}

/**
 * Initializes an enclave in `dir` (with the configuration written there, if any, else the starter's),
 * unseals it with the development shares, issues the benchmark service's token, imports `spec` through
 * the vault, and runs `use` on the open enclave before closing it.
 */
export async function seedEnclave<T>(dir: string, spec: DatasetSpec, use: (seeded: SeededEnclave) => Promise<T>): Promise<T> {
  const started = performance.now();
  const init = await initEnclave(dir, { dev: true, name: 'bench' });
  const enclave = await openEnclave(loadConfig(init.configPath));
  try {
    for (const share of readDevShares(init.dataDir) ?? []) await enclave.seal.submit(share);
    const issued = await enclave.tokens.issue({ principal: 'bench-service', org: 'platform', role: 'service', label: 'benchmark' });
    await importSynthetic(enclave, { ...(await enclave.tokens.authenticate(issued.secret)), purpose: BENCH_PURPOSE }, spec, started);
    // A serving enclave integrates its log every second: the data set starts from an integrated, signed
    // log, not from a backlog of every seeded entry that the measured server would integrate first.
    await enclave.log.sync();
    return await use({ enclave, configPath: init.configPath, token: issued.secret });
  } finally {
    await enclave.close();
  }
}

export async function seedDataset(dir: string, spec: DatasetSpec): Promise<Manifest> {
  const started = performance.now();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const manifest = await seedEnclave(dir, spec, async ({ enclave, configPath, token }): Promise<Manifest> => {
    const config = enclave.config;
    const total = recordCount(spec);
    const home = config.sites.get('trusted-us');
    const siteDbPath = home ? sqlitePathOf(home.storage, config.dataDir) : undefined;
    if (siteDbPath === undefined) throw new Error('the starter configuration no longer has a SQLite home site "trusted-us"');
    const counted = await enclave.router.store('trusted-us').records.count();
    if (counted !== total) throw new Error(`expected ${total} records at trusted-us, found ${counted}`);
    await enclave.router.store('trusted-us').scrub(); // checkpoint the WAL so both servers start from the same file state
    const logDbPath = sqlitePathOf(config.log.storage, config.dataDir);
    return {
      key: datasetKey(spec),
      subjects: spec.subjects,
      recordsPerSubject: spec.recordsPerSubject,
      records: total,
      configPath,
      siteDbPath,
      serviceToken: token,
      seedSeconds: (performance.now() - started) / 1000,
      seededAt: new Date().toISOString(),
      ...(logDbPath === undefined ? {} : { logDbPath }),
    };
  });
  // The enclave is closed now: the log's file is complete. The manifest comes last, as the seed's end.
  if (manifest.logDbPath !== undefined) snapshotSeededLog(manifest.logDbPath);
  writeManifest(dir, manifest);
  return manifest;
}

if (import.meta.main) {
  const [dir, subjects, perSubject] = process.argv.slice(2);
  if (dir === undefined || subjects === undefined || perSubject === undefined) {
    process.stderr.write('usage: node bench/seed.ts <dir> <subjects> <records-per-subject>\n');
    process.exit(2);
  }
  await seedDataset(dir, { subjects: Number(subjects), recordsPerSubject: Number(perSubject) });
}
