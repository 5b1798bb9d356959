// The work behind `enclave migrate …` (commands/migrate.ts registers the options).
import { readFileSync, writeFileSync } from 'node:fs';
import { verifyCertificate } from '../../core/deletion-certificate.ts';
import { EnclaveError } from '../../core/errors.ts';
import type { Mismatch } from '../../core/migration-state.ts';
import type { Enclave } from '../../services/enclave.ts';
import { publishedVerifierKey } from '../../services/migration/certificate-issuer.ts';
import type { MigrationContext } from '../../services/migration/migration-context.ts';
import { planMigration } from '../../services/migration/migration-planner.ts';
import { purgeMigration, type PurgeProgress } from '../../services/migration/migration-purger.ts';
import { MigrationRunner, type RunProgress } from '../../services/migration/migration-runner.ts';
import { verifyMigration } from '../../services/migration/migration-verifier.ts';
import { openMigration, openMigrationStateOf } from '../../services/migration/open-migration.ts';
import type { CertificateOptions, MigrateOptions } from '../commands/migrate.ts';
import { CliError, usageError } from '../fail.ts';
import type { Io } from '../io.ts';
import { openLocalEnclave } from '../local-enclave.ts';
import { unsealLocally } from '../local-unseal.ts';
import { Output } from '../output.ts';
import { createProgress, progressMode, type Progress } from '../progress.ts';
import { ask } from '../prompt.ts';
import { describeCertificate, describePlan, describePurge, describeRun, describeVerification } from './describe.ts';

async function withEnclave<T>(configPath: string, fn: (enclave: Enclave) => Promise<T>): Promise<T> {
  const enclave = await openLocalEnclave(configPath);
  try {
    return await fn(enclave);
  } finally {
    await enclave.close();
  }
}

/** Opens the enclave (unsealed when `keys`), the migration state and the mapping's source. */
async function withMigration<T>(io: Io, configPath: string, opts: MigrateOptions, keys: boolean, fn: (ctx: MigrationContext, out: Output) => Promise<T>): Promise<T> {
  const out = new Output(io, { json: opts.json === true });
  return withEnclave(configPath, async (enclave) => {
    if (keys) await unsealLocally(io, enclave, out, opts.devUnseal === true);
    const state = openMigrationStateOf(enclave.config);
    try {
      const opened = await openMigration(enclave, state, {
        mappingPath: opts.mapping,
        ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
        as: { ...(opts.org !== undefined ? { org: opts.org } : {}), ...(opts.role !== undefined ? { role: opts.role } : {}) },
      });
      try {
        return await fn(opened.ctx, out);
      } finally {
        await opened.close();
      }
    } finally {
      await state.close();
    }
  });
}

/** A progress display created on first use, when the total is known. */
function lazyProgress(io: Io, opts: MigrateOptions, task: string, unit: string, extras: readonly string[] = []): { update(done: number, total: number, extra?: Record<string, number>): void; stop(): void } {
  let p: Progress | undefined;
  return {
    update(done, total, extra) {
      p ??= createProgress(io, progressMode(io, opts.quiet === true), { task, total, unit, extras, rate: true });
      p.update(done, extra);
    },
    stop() {
      p?.stop();
    },
  };
}

export async function plan(io: Io, configPath: string, opts: MigrateOptions): Promise<void> {
  await withMigration(io, configPath, opts, false, async (ctx, out) => {
    const progress = lazyProgress(io, opts, 'planning', 'rows');
    const result = await planMigration(ctx, (done, total) => progress.update(done, total));
    progress.stop();
    out.result(result, describePlan);
  });
}

export async function run(io: Io, configPath: string, opts: MigrateOptions): Promise<void> {
  await withMigration(io, configPath, opts, true, async (ctx, out) => {
    const progress = lazyProgress(io, opts, `copying ${ctx.name}`, 'rows', ['copied', 'refused']);
    const onProgress = (p: RunProgress) => {
      if (p.phase === 'copying') progress.update(p.done, p.total, { copied: p.counters.copied + p.counters.recopied, refused: p.counters.refused });
    };
    const result = await new MigrationRunner(ctx, { onProgress }).run();
    progress.stop();
    out.result(result, describeRun);
  });
}

async function allMismatches(ctx: MigrationContext, verification: string): Promise<Mismatch[]> {
  const out: Mismatch[] = [];
  for (let after = 0; ; ) {
    const page = await ctx.state.mismatches(verification, 1000, after);
    const last = page.at(-1);
    if (!last) return out;
    out.push(...page.map(({ table, key, kind, detail }) => ({ table, key, kind, detail })));
    after = last.seq;
  }
}

export async function verify(io: Io, configPath: string, opts: MigrateOptions): Promise<void> {
  await withMigration(io, configPath, opts, true, async (ctx, out) => {
    const progress = lazyProgress(io, opts, `verifying ${ctx.name}`, 'rows', ['mismatches']);
    const v = await verifyMigration(ctx, (p) => progress.update(p.done, p.total, { mismatches: p.mismatches }));
    progress.stop();
    const mismatches = await allMismatches(ctx, v.id);
    out.result({ ...v, mismatchList: mismatches }, (x) => describeVerification(x, x.mismatchList));
    if (!v.ok) throw new CliError('verification_failed', `${v.mismatches} mismatch(es) between the source and the vault (verification ${v.id}); run again to re-copy them, then verify`);
  });
}

export async function purge(io: Io, configPath: string, opts: MigrateOptions): Promise<void> {
  if (opts.yes !== true && io.stdin.isTTY !== true) throw usageError('purge deletes rows at the source: confirm with --yes when not on a terminal');
  await withMigration(io, configPath, opts, true, async (ctx, out) => {
    if (opts.yes !== true) {
      const answer = await ask(io, `Delete the verified rows of migration "${ctx.name}" at ${ctx.sourceLabel}? Type the migration's name to confirm: `);
      if (answer !== ctx.name) throw new CliError('aborted', 'not confirmed; nothing was deleted');
    }
    const progress = lazyProgress(io, opts, `purging ${ctx.name}`, 'rows');
    let total = 0;
    for (const t of ctx.resolved.tables) total += await ctx.source.count(t.table);
    let before = 0;
    let table = '';
    let done = 0;
    const onProgress = (p: PurgeProgress) => {
      if (p.table !== table) [table, before] = [p.table, done];
      done = before + p.done;
      progress.update(done, total);
    };
    const report = await purgeMigration(ctx, { ...(opts.verification !== undefined ? { verification: opts.verification } : {}), onProgress });
    progress.stop();
    const vkey = await publishedVerifierKey(ctx.enclave.control.meta);
    const check = verifyCertificate(report.certificate.note, vkey ?? '');
    out.result({ ...report, certificate: { ...report.certificate, body: check.certificate }, verifierKey: vkey }, () => describePurge(report, check));
  });
}

function readKey(key: string): string {
  if (!key.startsWith('@')) return key;
  try {
    return readFileSync(key.slice(1), 'utf8').trim();
  } catch (err) {
    throw usageError(`cannot read ${key.slice(1)}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

export async function certificate(io: Io, configPath: string, id: string | undefined, opts: CertificateOptions): Promise<void> {
  const out = new Output(io, { json: opts.json === true });
  if (opts.file !== undefined) {
    // The auditor's path: a certificate file and a key, nothing else.
    if (opts.key === undefined) throw usageError('--file needs --key <vkey> (the enclave\'s certificate verifier key)');
    let note: string;
    try {
      note = readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw usageError(`cannot read ${opts.file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    const vkey = readKey(opts.key);
    const check = verifyCertificate(note, vkey);
    out.result({ id: check.id, valid: true, checks: check.checks, certificate: check.certificate }, () => describeCertificate(check, vkey, undefined));
    return;
  }
  await withEnclave(configPath, async (enclave) => {
    const vkey = await publishedVerifierKey(enclave.control.meta);
    if (opts.publicKey === true) {
      if (vkey === undefined) throw new EnclaveError('certificate_not_found', 'no certificate was issued yet, so no certificate key is published');
      out.result({ verifierKey: vkey }, (x) => x.verifierKey);
      return;
    }
    const state = openMigrationStateOf(enclave.config);
    try {
      if (id === undefined) {
        const list = await state.certificates();
        out.result(
          list.map((c) => ({ id: c.id, migration: c.migration, verification: c.verification, issued_at: new Date(c.issuedAt).toISOString(), log_index: c.logIndex })),
          (l) => (l.length === 0 ? 'No deletion certificates yet.' : l.map((c) => `${c.id}  ${c.migration}  ${c.issued_at}  verification ${c.verification}`).join('\n')),
        );
        return;
      }
      const c = await state.certificate(id);
      if (!c) throw new EnclaveError('certificate_not_found', `no deletion certificate "${id}" (list them with \`enclave migrate certificate\`)`);
      if (vkey === undefined) throw new EnclaveError('certificate_invalid', 'the certificate key is not published in the control store');
      const check = verifyCertificate(c.note, vkey);
      if (check.id !== c.id) throw new EnclaveError('certificate_invalid', `the stored certificate's content does not hash to its id ${c.id}`);
      if (opts.out !== undefined) writeFileSync(opts.out, c.note);
      out.result({ id: c.id, valid: true, checks: check.checks, verifierKey: vkey, logIndex: c.logIndex, certificate: check.certificate, note: c.note }, () =>
        [describeCertificate(check, vkey, c.logIndex), ...(opts.out === undefined ? [] : ['', `Written to ${opts.out} (a signed note; verify it anywhere with --file and --key).`])].join('\n'),
      );
    } finally {
      await state.close();
    }
  });
}
