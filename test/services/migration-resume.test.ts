// `enclave migrate run` killed with SIGKILL at random moments, then run again to the end, leaves exactly
// the state an uninterrupted run leaves: the same subjects and records in the vault (decrypted content,
// versions), the same ledger, the same verified roots. Real child processes, real files; fast-check
// picks the kill times, from before the process has even started its work to after it finished.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { buildLegacySites } from '../../src/cli/demo/legacy-sites.ts';
import { Population } from '../../src/cli/demo/population.ts';
import { loadConfig } from '../../src/services/config-loader.ts';
import { openEnclave } from '../../src/services/enclave.ts';
import { initEnclave } from '../../src/services/init-service.ts';
import { readDevShares } from '../../src/services/dev-shares.ts';
import { openMigration, openMigrationStateOf } from '../../src/services/migration/open-migration.ts';
import { verifyMigration } from '../../src/services/migration/migration-verifier.ts';
import { REPO } from '../cli/helpers.ts';

const MAIN = join(REPO, 'src', 'cli', 'main.ts');
const root = mkdtempSync(join(tmpdir(), 'enclave-resume-'));
const template = join(root, 'template');

interface Outcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** From the spawn, and from the first progress line (copying has begun) to the exit. */
  readonly ms: number;
  readonly workMs: number;
  readonly stderr: string;
}

/** When to SIGKILL: so many ms after the spawn, or after the run reports its first progress (mid-copy). */
type KillPoint = { readonly from: 'spawn' | 'work'; readonly at: number };

/** Runs `enclave migrate run` in `dir`, SIGKILLed at `kill` if it is still running then. */
function migrateRun(dir: string, kill?: { from: 'spawn' | 'work'; ms: number }): Promise<Outcome> {
  const started = performance.now();
  let working: number | undefined;
  const child = spawn(process.execPath, [MAIN, 'migrate', 'run', '--config', join(dir, 'enclave.yaml'), '--mapping', join(dir, 'data', 'legacy', 'virginia.mapping.yaml'), '--dev-unseal', '--batch-size', '10'], {
    cwd: REPO,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  let timer: NodeJS.Timeout | undefined;
  const arm = (ms: number) => (timer = setTimeout(() => child.kill('SIGKILL'), ms));
  if (kill?.from === 'spawn') arm(kill.ms);
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    if (working === undefined && stderr.includes('{"progress"')) {
      working = performance.now();
      if (kill?.from === 'work') arm(kill.ms);
    }
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const now = performance.now();
      resolve({ code, signal, ms: now - started, workMs: now - (working ?? now), stderr });
    });
  });
}

const POPULATION = new Population(3, 160);

/** How far a killed run got: batches of the current pass, and how many are done. */
async function progressOf(dir: string): Promise<{ batches: number; done: number } | undefined> {
  const state = await openMigrationStateOf(loadConfig(join(dir, 'enclave.yaml')));
  try {
    const m = await state.get('virginia');
    return m ? state.passProgress('virginia', m.pass) : undefined;
  } finally {
    await state.close();
  }
}

/** Everything a run leaves behind, in a form two runs can be compared by (ciphertexts differ run to run: random nonces). */
async function snapshot(dir: string): Promise<unknown> {
  const enclave = await openEnclave(loadConfig(join(dir, 'enclave.yaml')));
  const state = await openMigrationStateOf(enclave.config);
  try {
    for (const s of readDevShares(enclave.config.dataDir) ?? []) await enclave.seal.submit(s);
    const officer = { id: 'checker', org: 'gatekeeper', orgKind: 'gatekeeper' as const, role: 'officer', tokenId: 't' };
    const counts: Record<string, unknown> = {};
    for (const [site, store] of enclave.sites) counts[site] = [await store.subjects.count(), await store.records.count()];
    const read: unknown[] = [];
    const attempt = async (fn: () => Promise<unknown>) => {
      try {
        return await fn();
      } catch (err) {
        return (err as { code?: string }).code;
      }
    };
    // Every subject and record of the legacy site, read back through the vault (decrypted).
    for (let i = 0; i < POPULATION.size; i += 2) {
      const user = POPULATION.user(i);
      read.push(await attempt(async () => {
        const s = await enclave.vault.getSubject(officer, user.id);
        return [s.id, s.country, s.jurisdiction, s.site, s.erased];
      }));
      for (const r of user.records) {
        read.push(await attempt(async () => {
          const got = await enclave.vault.getRecord(officer, r.collection, r.id);
          return [got.collection, got.id, got.version, got.subject, got.data];
        }));
      }
    }
    const opened = await openMigration(enclave, state, { mappingPath: join(dir, 'data', 'legacy', 'virginia.mapping.yaml'), batchSize: 50 });
    try {
      const m = await state.get('virginia');
      const v = await verifyMigration(opened.ctx);
      return {
        pass: m?.passState,
        counts,
        verified: v.ok,
        roots: v.tables.map((t) => [t.table, t.rows, t.records, t.sourceRoot, t.destinationRoot]),
        ledger: await state.ledgerCount('virginia'),
        read,
      };
    } finally {
      await opened.close();
    }
  } finally {
    await state.close();
    await enclave.close();
  }
}

void describe('migrate run killed with SIGKILL at any moment', () => {
  let reference: unknown;
  let referenceMs = 0;
  let referenceWorkMs = 0;
  let trial = 0;

  before(async () => {
    const init = await initEnclave(template, { dev: true });
    buildLegacySites(join(init.dataDir, 'legacy'), POPULATION);
    const dir = join(root, 'reference');
    cpSync(template, dir, { recursive: true });
    const r = await migrateRun(dir);
    assert.equal(r.code, 0, r.stderr);
    referenceMs = r.ms;
    referenceWorkMs = r.workMs;
    reference = await snapshot(dir);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  void it('property: killed one to three times at random points, then run to the end, the state equals an uninterrupted run\'s', async () => {
    const point: fc.Arbitrary<KillPoint> = fc.record({ from: fc.constantFrom('spawn' as const, 'work' as const, 'work' as const), at: fc.integer({ min: 0, max: 1000 }).map((n) => n / 1000) });
    let midCopy = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(point, { minLength: 1, maxLength: 3 }), async (points) => {
        const dir = join(root, `trial-${++trial}`);
        cpSync(template, dir, { recursive: true });
        try {
          for (const p of points) {
            const killed = await migrateRun(dir, { from: p.from, ms: Math.round(p.at * (p.from === 'spawn' ? referenceMs : referenceWorkMs)) });
            // Killed, or finished before the kill came: both are fine; failing on its own is not.
            assert.ok(killed.signal === 'SIGKILL' || killed.code === 0, `exit ${String(killed.code)}: ${killed.stderr}`);
            const progress = await progressOf(dir);
            if (progress !== undefined && progress.done > 0 && progress.done < progress.batches) midCopy += 1;
          }
          const last = await migrateRun(dir);
          assert.equal(last.code, 0, last.stderr);
          assert.deepEqual(await snapshot(dir), reference);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 6, endOnFailure: true },
    );
    assert.ok(midCopy > 0, 'at least one kill landed in the middle of the copy');
  });
});
