// The log with witnesses (C2SP tlog-witness), end to end over real HTTP: an enclave configured with two
// witnesses (the trusted provider's `enclave witness serve`, in-process here) publishes checkpoints
// carrying both cosignatures, which the outside verifier can require; with a witness down and a quorum
// of two, nothing new is published until it is back (and it catches up); a forked log with the same key
// cannot get its checkpoint cosigned, so it never reaches its quorum.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { isEnclaveError } from '../../src/core/errors.ts';
import { cosignatureVerifierFromKey, cosignerFromKey, SIG_TYPE_COSIGNATURE } from '../../src/core/tlog/index.ts';
import { generateNoteKey } from '../../src/core/tlog/note.ts';
import { parseTilePath } from '../../src/core/tlog/tiles.ts';
import { buildWitnessServer } from '../../src/http/witness-server.ts';
import { loadConfig } from '../../src/services/config-loader.ts';
import { openEnclave, type Enclave } from '../../src/services/enclave.ts';
import { initEnclave } from '../../src/services/init-service.ts';
import { readDevShares } from '../../src/services/dev-shares.ts';
import { LogService } from '../../src/services/log-service.ts';
import { verifyLog, type LogFetch } from '../../src/services/log-verifier.ts';
import { witnessCosigner } from '../../src/services/witness-client.ts';
import { WitnessService } from '../../src/services/witness-service.ts';
import { SqliteLogStore } from '../../src/storage/sqlite/sqlite-log-store.ts';
import { SqliteWitnessStore } from '../../src/storage/sqlite/sqlite-witness-store.ts';
import { tempDir } from '../helpers/fixture.ts';

interface RunningWitness {
  readonly name: string;
  readonly vkey: string;
  url: string;
  app: FastifyInstance | null;
  start(logs: ReadonlyMap<string, readonly string[]>): Promise<void>;
  stop(): Promise<void>;
}

function witness(dir: string, name: string): RunningWitness {
  const key = generateNoteKey(name, SIG_TYPE_COSIGNATURE);
  const w: RunningWitness = {
    name,
    vkey: key.vkey,
    url: '',
    app: null,
    async start(logs) {
      const service = new WitnessService({ store: new SqliteWitnessStore(join(dir, `${name}.db`)), cosigner: cosignerFromKey(key.skey), logs });
      const app = await buildWitnessServer(service);
      const port = w.url === '' ? 0 : Number(new URL(w.url).port);
      w.url = await app.listen({ host: '127.0.0.1', port });
      w.app = app;
    },
    async stop() {
      await w.app?.close();
      w.app = null;
    },
  };
  return w;
}

/** Fetches the log's C2SP resources straight from the service (what the HTTP routes serve). */
function fetchFrom(log: LogService): LogFetch {
  return async (path) => {
    try {
      if (path === 'checkpoint') return new TextEncoder().encode((await log.checkpoint())?.text);
      const r = parseTilePath(path);
      return r.kind === 'entries' ? await log.entryBundle(r.index, r.width) : await log.tile(r.level, r.index, r.width);
    } catch (err) {
      if (isEnclaveError(err, 'not_found')) return undefined;
      throw err;
    }
  };
}

let dir: string;
let enclave: Enclave;
const errors: string[] = [];
const b = () => witnesses[1] as RunningWitness;
let witnesses: RunningWitness[] = [];

before(async () => {
  dir = tempDir('enclave-witness-');
  witnesses = [witness(dir, 'witness-a.example'), witness(dir, 'witness-b.example')];
  // Ports are needed in the configuration: start each witness once for no log, to learn its URL.
  for (const w of witnesses) {
    await w.start(new Map());
    await w.stop();
  }
  const init = await initEnclave(dir, { dev: true });
  const config = readFileSync(init.configPath, 'utf8').replace(
    '  witness_quorum: 0',
    ['  witnesses:', ...witnesses.map((w) => `    - { name: ${w.name}, url: "${w.url}", vkey: "${w.vkey}" }`), '  witness_quorum: 2'].join('\n'),
  );
  writeFileSync(init.configPath, config);
  enclave = await openEnclave(loadConfig(init.configPath), { onLogError: (err) => errors.push(String(err)) });
  for (const s of readDevShares(init.dataDir) ?? []) await enclave.seal.submit(s);
  const vkey = await enclave.log.vkey();
  assert.ok(vkey);
  const logs = new Map([[enclave.log.origin, [vkey]]]);
  for (const w of witnesses) await w.start(logs);
});

after(async () => {
  for (const w of witnesses) await w.stop();
  await enclave.close();
  rmSync(dir, { recursive: true, force: true });
});

async function activity(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await enclave.log.append({ type: 'token.revoked', details: { token: `tok_${i}` } });
}

void describe('a log with two witnesses and a quorum of two', () => {
  void it('publishes checkpoints cosigned by both, which the outside verifier accepts with a quorum of two', async () => {
    await activity(10);
    const cp = await enclave.log.sync();
    assert.ok(cp && cp.size >= 10);
    const vkey = (await enclave.log.vkey()) ?? '';
    const result = await verifyLog({ fetch: fetchFrom(enclave.log), vkey, witnesses: witnesses.map((w) => w.vkey), quorum: 2 });
    assert.deepEqual([...result.cosigners].sort(), witnesses.map((w) => w.name).sort());
  });

  void it('publishes nothing new while a witness is down, and catches up when it is back', async () => {
    const before = (await enclave.log.checkpoint())?.size ?? 0;
    await b().stop();
    await activity(5);
    errors.length = 0;
    const cp = await enclave.log.sync().catch((err: unknown) => err);
    assert.ok(isEnclaveError(cp, 'log_quorum_not_met'), String(cp));
    assert.equal((await enclave.log.checkpoint())?.size, before, 'the previous checkpoint stays the published one');
    assert.ok(errors.some((e) => /witness/.test(e)), 'the failing witness is reported');

    await b().start(new Map([[enclave.log.origin, [(await enclave.log.vkey()) ?? '']]]));
    await activity(3);
    const later = await enclave.log.sync();
    assert.equal(later?.size, before + 8, 'witness b catches up over the size it missed');
    const result = await verifyLog({ fetch: fetchFrom(enclave.log), vkey: (await enclave.log.vkey()) ?? '', witnesses: witnesses.map((w) => w.vkey), quorum: 2, full: false });
    assert.equal(result.cosigners.length, 2);
  });

  void it('a forked log with the same key and origin cannot get a different tree cosigned', async () => {
    const vkey = (await enclave.log.vkey()) ?? '';
    const size = (await enclave.log.checkpoint())?.size ?? 0;
    // The attack: whoever holds a log key the witnesses trust runs a second log under the same origin,
    // with other entries, to show some verifiers a different history.
    const fork = new LogService({
      store: new SqliteLogStore({ path: join(dir, 'fork.db') }),
      origin: enclave.log.origin,
      cosign: witnessCosigner(witnesses),
      witnesses: witnesses.map((w) => cosignatureVerifierFromKey(w.vkey)),
      witnessQuorum: 1,
    });
    await fork.unsealed(randomBytes(32));
    const logs = new Map([[enclave.log.origin, [vkey, (await fork.vkey()) ?? '']]]);
    for (const w of witnesses) {
      await w.stop();
      await w.start(logs);
    }
    for (let i = 0; i < size; i++) await fork.append({ type: 'enclave.sealed', details: { forged: i } });
    await assert.rejects(fork.sync(), (err) => isEnclaveError(err, 'log_quorum_not_met'));
    assert.equal(await fork.checkpoint(), null, 'the fork published nothing');
    // The witnesses still stand by the real log: its next checkpoint is cosigned by both.
    await activity(1);
    assert.equal((await enclave.log.sync())?.size, size + 1);
    await fork.close();
  });
});
