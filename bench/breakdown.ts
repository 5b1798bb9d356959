// What one gated read costs, step by step, measured in-process (no HTTP) over the same seeded random
// ids: the steps of Vault.getRecord and the token check, each timed separately, next to the baseline's
// single prepared-statement read. The whole getRecord call is timed too, as a check that the steps add
// up. Each figure is the median over rounds. Run by run.ts in its own process:  node bench/breakdown.ts <enclave.yaml> <site.db> <subjects> <per-subject>
import { DatabaseSync } from 'node:sqlite';
import { recordAad, type RecordData } from '../src/core/record-model.ts';
import { open } from '../src/crypto/aead.ts';
import { loadConfig } from '../src/services/config-loader.ts';
import { openEnclave } from '../src/services/enclave.ts';
import { readDevShares } from '../src/services/dev-shares.ts';
import { BENCH_PURPOSE, recordRef } from './dataset.ts';
import { randomInt, seededRandom } from './prng.ts';
import { median } from './stats.ts';

export interface Step {
  readonly step: string;
  readonly micros: number;
}

export interface Breakdown {
  readonly steps: readonly Step[];
  /** Sum of the gated steps. */
  readonly gatedSum: number;
  /** Vault.getRecord plus TokenService.authenticate, called as the server calls them: main-thread CPU per read, `callers` at once. */
  readonly gatedDirect: number;
  readonly callers: number;
  /** The baseline's row read. */
  readonly baselineRead: number;
  readonly reads: number;
  readonly rounds: number;
}

const WARMUP = 20_000;
const ROUNDS = 5;
const READS_PER_ROUND = 10_000;
const READS = ROUNDS * READS_PER_ROUND;
/** Concurrent callers of the check: the load generator's connections. */
const CALLERS = 10;

export async function measureBreakdown(configPath: string, siteDbPath: string, token: string, subjects: number, perSubject: number): Promise<Breakdown> {
  const enclave = await openEnclave(loadConfig(configPath));
  try {
    for (const share of readDevShares(enclave.config.dataDir) ?? []) await enclave.seal.submit(share);
    const next = seededRandom(0xb4d);
    const refs = Array.from({ length: WARMUP + 2 * READS }, () => recordRef(randomInt(next, subjects), randomInt(next, perSubject)));
    // The platform service states one of its configured purposes, as the load generator's requests do.
    const principal = { ...(await enclave.tokens.authenticate(token)), purpose: BENCH_PURPOSE };
    let totals = new Map<string, bigint>();
    const iso = (ms: number) => new Date(ms).toISOString();

    // One read, as Vault.getRecord does it (the re-homing branch aside: no subject is moving here).
    const read = async (i: number, record: boolean): Promise<unknown> => {
      const ref = refs[i];
      const c = ref && enclave.config.collections.get(ref.collection);
      if (!ref || !c) throw new Error('bad reference');
      let t = process.hrtime.bigint();
      const lap = (step: string) => {
        const now = process.hrtime.bigint();
        if (record) totals.set(step, (totals.get(step) ?? 0n) + (now - t));
        t = now;
      };
      await enclave.tokens.authenticate(token);
      lap('token check (SHA-256, token cache)');
      const found = await enclave.router.findRecordWithSubject(c.name, ref.id);
      lap('record and subject lookup (one statement: erasure mark, wrapped key)');
      if (!found || found.row.sealed === null) throw new Error(`record ${ref.id} missing or not sealed`);
      const subject = found.subject;
      if (!subject?.wrappedKey) throw new Error(`subject ${found.row.subject} missing or erased`);
      const decision = await enclave.decisions.decide({ principal, action: 'record.read', collection: c, subject: found.row.subject, fields: [...c.fields.keys()], now: new Date() });
      lap('decision');
      if (decision.release !== 'protected') throw new Error('the bench principal should read protected fields');
      const dek = enclave.keyring.unwrap(found.site, found.row.subject, subject.wrappedKey);
      lap('subject data key (LRU, unwrap on a miss)');
      const plain = open(dek, found.row.sealed, recordAad(c.name, found.row.id, found.row.subject, found.row.version));
      lap('AES-256-GCM decryption (with AAD)');
      const data = { ...(JSON.parse(found.row.publicJson) as RecordData), ...(JSON.parse(plain.toString('utf8')) as RecordData) };
      const ordered: RecordData = {};
      for (const f of c.fields.keys()) if (Object.hasOwn(data, f)) ordered[f] = data[f] ?? null;
      const view = { id: found.row.id, data: ordered, created_at: iso(found.row.createdAt), updated_at: iso(found.row.updatedAt) };
      lap('JSON parsing and view');
      return view;
    };

    const db = new DatabaseSync(siteDbPath);
    try {
      const byKey = db.prepare('SELECT * FROM records WHERE collection = ? AND id = ?');
      for (let i = 0; i < WARMUP; i++) await read(i, false);
      // Rounds interleave the three measurements, and each figure is the median over the rounds, so a
      // burst of interference on the machine moves one round rather than the result.
      const perStep = new Map<string, number[]>();
      const direct: number[] = [];
      const baseline: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const first = WARMUP + round * READS_PER_ROUND;
        totals = new Map();
        for (let i = first; i < first + READS_PER_ROUND; i++) await read(i, true);
        for (const [step, ns] of totals) perStep.set(step, [...(perStep.get(step) ?? []), Number(ns) / READS_PER_ROUND / 1000]);
        // The same calls the server makes, on ids this round has not read yet, from as many concurrent
        // callers as the load generator has connections. This thread's CPU, not wall time: one caller
        // after another would mostly measure waiting for the log's durable group commit.
        const cpu0 = process.threadCpuUsage();
        let nextRef = first + READS;
        const caller = async () => {
          for (let i = nextRef++; i < first + READS + READS_PER_ROUND; i = nextRef++) {
            const ref = refs[i];
            if (!ref) break;
            const who = { ...(await enclave.tokens.authenticate(token)), purpose: BENCH_PURPOSE };
            await enclave.vault.getRecord(who, ref.collection, ref.id);
          }
        };
        await Promise.all(Array.from({ length: CALLERS }, caller));
        const cpu = process.threadCpuUsage(cpu0);
        direct.push((cpu.user + cpu.system) / READS_PER_ROUND);
        const t1 = process.hrtime.bigint();
        for (let i = first; i < first + READS_PER_ROUND; i++) {
          const ref = refs[i];
          if (ref) byKey.get(ref.collection, ref.id);
        }
        baseline.push(Number(process.hrtime.bigint() - t1) / READS_PER_ROUND / 1000);
      }
      const steps = [...perStep].map(([step, micros]) => ({ step, micros: median(micros) }));
      return { steps, gatedSum: steps.reduce((sum, x) => sum + x.micros, 0), gatedDirect: median(direct), callers: CALLERS, baselineRead: median(baseline), reads: READS, rounds: ROUNDS };
    } finally {
      db.close();
    }
  } finally {
    await enclave.close();
  }
}

if (import.meta.main) {
  const [configPath, siteDbPath, token, subjects, perSubject] = process.argv.slice(2);
  if (!configPath || !siteDbPath || !token || !subjects || !perSubject) {
    process.stderr.write('usage: node bench/breakdown.ts <enclave.yaml> <site.db> <token> <subjects> <records-per-subject>\n');
    process.exit(2);
  }
  const result = await measureBreakdown(configPath, siteDbPath, token, Number(subjects), Number(perSubject));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
