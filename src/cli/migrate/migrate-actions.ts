// The work behind `enclave migrate …` (commands/migrate.ts registers the options): collects the unseal
// shares, runs the operation (services/migration/migration-task.ts) in this process, whose heap the
// command bounds (cli/heap-limits.ts), shows its progress and prints the result.
import { writeFileSync } from 'node:fs';
import { verifyCertificate } from '../../core/deletion-certificate.ts';
import { MAX_NOTE_SIZE } from '../../core/tlog/note.ts';
import { EnclaveError } from '../../core/errors.ts';
import type { Mismatch } from '../../core/migration-state.ts';
import { publishedVerifierKey } from '../../services/migration/certificate-issuer.ts';
import { runMigrationTask, type MigrationTask, type TaskProgress } from '../../services/migration/migration-task.ts';
import { openMigrationStateOf } from '../../services/migration/open-migration.ts';
import { loadConfig } from '../../services/config-loader.ts';
import { checkStorageUrls } from '../../storage/open-store.ts';
import type { CertificateOptions, MigrateOptions } from '../commands/migrate.ts';
import { CliError, usageError } from '../fail.ts';
import type { Io } from '../io.ts';
import { withLocalSeal } from '../local-seal.ts';
import { unsealLocally } from '../local-unseal.ts';
import { MAX_KEY_FILE_BYTES } from '../options.ts';
import { atUserPath, readBoundedText } from '../output-files.ts';
import { Output } from '../output.ts';
import { meterResources } from '../process-resources.ts';
import { createProgress, progressMode, type Progress } from '../progress.ts';
import { ask } from '../prompt.ts';
import { checkedMapping } from './checked-mapping.ts';
import { describeCertificate, describeMismatches, describePlan, describePurge, describeRun, describeVerificationHead, describeVerificationTail, needsFix } from './describe.ts';

/**
 * The task of one operation; its shares (when it needs keys) are checked here, on the main thread, against
 * the control store alone. The storage URLs of the configuration are checked here too (by withLocalSeal
 * when shares are needed), so that a bad one is refused naming the file and the key.
 */
async function task<O extends MigrationTask['op']>(io: Io, configPath: string, opts: MigrateOptions, op: O, out: Output): Promise<MigrationTask & { op: O }> {
  if (op === 'plan') checkStorageUrls(loadConfig(configPath), configPath);
  const shares = op === 'plan' ? [] : await withLocalSeal(configPath, (local) => unsealLocally(io, local, out, opts.devUnseal === true));
  return {
    op,
    configPath,
    mappingPath: opts.mapping,
    batchSize: opts.batchSize,
    as: { ...(opts.org !== undefined ? { org: opts.org } : {}), ...(opts.role !== undefined ? { role: opts.role } : {}) },
    verification: opts.verification,
    shares,
  };
}

/** Where a migration's late warning goes (a store that failed to close after the operation succeeded). */
const warnOf = (out: Output) => (message: string) => out.warn(message);

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
  const out = new Output(io, { json: opts.json === true });
  await checkedMapping(opts.mapping);
  const progress = lazyProgress(io, opts, 'planning', 'rows');
  const result = await runMigrationTask(await task(io, configPath, opts, 'plan', out), { onProgress: (p) => p.op === 'plan' && progress.update(p.done, p.total), warn: warnOf(out) });
  progress.stop();
  out.result(result, describePlan);
}

export async function run(io: Io, configPath: string, opts: MigrateOptions): Promise<void> {
  const out = new Output(io, { json: opts.json === true });
  const progress = lazyProgress(io, opts, `copying ${(await checkedMapping(opts.mapping)).name}`, 'rows', ['copied', 'refused']);
  const onProgress = (t: TaskProgress) => {
    if (t.op !== 'run' || t.progress.phase !== 'copying') return;
    const p = t.progress;
    progress.update(p.done, p.total, { copied: p.counters.copied + p.counters.recopied, refused: p.counters.refused });
  };
  const t = await task(io, configPath, opts, 'run', out);
  const meter = meterResources();
  const result = await runMigrationTask(t, { onProgress, warn: warnOf(out) });
  progress.stop();
  out.result({ ...result, resources: meter.read() }, describeRun);
}

export async function verify(io: Io, configPath: string, opts: MigrateOptions): Promise<void> {
  const out = new Output(io, { json: opts.json === true });
  const progress = lazyProgress(io, opts, `verifying ${(await checkedMapping(opts.mapping)).name}`, 'rows', ['mismatches']);
  // The mismatches are printed as they are read, never all held (a source changed since the copy may list every row).
  let list: { add(part: readonly Mismatch[]): Promise<void>; end(tailText: string): Promise<void> } | undefined;
  const listed = { copyAgain: false, fix: false };
  const { verification: v } = await runMigrationTask(await task(io, configPath, opts, 'verify', out), {
    onProgress: (t) => {
      if (t.op === 'verify') progress.update(t.progress.done, t.progress.total, { mismatches: t.progress.mismatches });
    },
    warn: warnOf(out),
    onVerified: (verification) => {
      progress.stop();
      list = out.resultList(verification, 'mismatchList', describeVerificationHead(verification), describeMismatches);
    },
    onMismatches: (page) => {
      for (const m of page) {
        if (needsFix(m)) listed.fix = true;
        else listed.copyAgain = true;
      }
      return list?.add(page);
    },
  });
  await list?.end(describeVerificationTail(listed));
  if (!v.ok) throw new CliError('verification_failed', `${v.mismatches} mismatch(es) between the source and the vault (verification ${v.id}); run again to re-copy them, then verify`);
}

export async function purge(io: Io, configPath: string, opts: MigrateOptions): Promise<void> {
  if (opts.yes !== true && io.stdin.isTTY !== true) throw usageError('purge deletes rows at the source: confirm with --yes when not on a terminal');
  const out = new Output(io, { json: opts.json === true });
  const mapping = await checkedMapping(opts.mapping);
  const t = await task(io, configPath, opts, 'purge', out);
  if (opts.yes !== true) {
    const answer = await ask(io, `Delete the verified rows of migration "${mapping.name}" at its ${mapping.source.kind} source? Type the migration's name to confirm: `);
    if (answer !== mapping.name) throw new CliError('aborted', 'not confirmed; nothing was deleted');
  }
  const progress = lazyProgress(io, opts, `purging ${mapping.name}`, 'rows');
  let table = '';
  let before = 0;
  let done = 0;
  const { report, check, verifierKey } = await runMigrationTask(t, {
    onProgress: (p) => {
      if (p.op !== 'purge') return;
      if (p.progress.table !== table) [table, before] = [p.progress.table, done];
      done = before + p.progress.done;
      progress.update(done, p.total);
    },
    warn: warnOf(out),
  });
  progress.stop();
  out.result({ ...report, certificate: { ...report.certificate, body: check.certificate }, verifierKey }, () => describePurge(report, check));
}

function readKey(key: string): string {
  if (!key.startsWith('@')) return key;
  const file = key.slice(1);
  // Bounded as every key file (options.ts): a larger one (or /dev/zero) is not a key, and is not read further.
  return readBoundedText(file, MAX_KEY_FILE_BYTES, {
    unreadable: (code) => `cannot read ${file}: ${code}`,
    tooLarge: `--key @${file}: larger than ${MAX_KEY_FILE_BYTES / 1024} KiB, so not a verifier key (one line, name+id+base64)`,
  }).trim();
}

export async function certificate(io: Io, configPath: string, id: string | undefined, opts: CertificateOptions): Promise<void> {
  const out = new Output(io, { json: opts.json === true });
  if (opts.file !== undefined) {
    // The auditor's path: a certificate file and a key, nothing else.
    if (opts.key === undefined) throw usageError('--file needs --key <vkey> (the enclave\'s certificate verifier key)');
    // A certificate is a signed note, which no parser takes above MAX_NOTE_SIZE (1 MiB): a larger file is refused unread.
    const note = readBoundedText(opts.file, MAX_NOTE_SIZE, {
      unreadable: (code) => `cannot read ${opts.file}: ${code}`,
      tooLarge: `--file ${opts.file}: larger than ${MAX_NOTE_SIZE / 1024 / 1024} MiB, so not a deletion certificate (a signed note)`,
    });
    const vkey = readKey(opts.key);
    const check = verifyCertificate(note, vkey);
    out.result({ id: check.id, valid: true, checks: check.checks, certificate: check.certificate }, () => describeCertificate(check, vkey, undefined));
    return;
  }
  await withLocalSeal(configPath, async (local) => {
    const vkey = await publishedVerifierKey(local.control.meta);
    if (opts.publicKey === true) {
      if (vkey === undefined) throw new EnclaveError('certificate_not_found', 'no certificate was issued yet, so no certificate key is published');
      out.result({ verifierKey: vkey }, (x) => x.verifierKey);
      return;
    }
    const state = await openMigrationStateOf(local.config);
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
      const outPath = opts.out;
      if (outPath !== undefined) atUserPath(`--out ${outPath}`, () => writeFileSync(outPath, c.note));
      out.result({ id: c.id, valid: true, checks: check.checks, verifierKey: vkey, logIndex: c.logIndex, certificate: check.certificate, note: c.note }, () =>
        [describeCertificate(check, vkey, c.logIndex), ...(opts.out === undefined ? [] : ['', `Written to ${opts.out} (a signed note; verify it anywhere with --file and --key).`])].join('\n'),
      );
    } finally {
      await state.close();
    }
  });
}
