// In-process HTTP: a real server over a real fixture, driven with fastify.inject (no sockets).
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildServer } from '../../src/http/server.ts';
import { loadConfig } from '../../src/services/config-loader.ts';
import { readDevShares } from '../../src/services/dev-shares.ts';
import { openEnclave } from '../../src/services/enclave.ts';
import { makeFixture, SERVICE_PURPOSE, type Fixture, type RoleName } from './fixture.ts';

export interface HttpFixture extends Fixture {
  readonly app: FastifyInstance;
  /** Sends a request as a demo role (or without a token for `null`). */
  call(as: RoleName | null, method: InjectOptions['method'], url: string, payload?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
}

export async function makeHttpFixture(options: Parameters<typeof makeFixture>[0] = {}): Promise<HttpFixture> {
  const f = await makeFixture(options);
  return served(f, await buildServer(f.enclave), () => f.close());
}

function served(f: Fixture, app: FastifyInstance, closeRest: () => Promise<void>): HttpFixture {
  return {
    ...f,
    app,
    call(as, method, url, payload, headers = {}) {
      const auth: Record<string, string> = as === null ? {} : { authorization: `Bearer ${f.tokens[as]}` };
      // Platform services act only for a configured purpose; tests of that rule pass their own header.
      const purpose: Record<string, string> = as === 'service' ? { 'enclave-purpose': SERVICE_PURPOSE } : {};
      return app.inject({ method, url, headers: { ...auth, ...purpose, ...headers }, ...(payload === undefined ? {} : { payload: payload as InjectOptions['payload'] }) });
    },
    async close() {
      await app.close();
      await closeRest();
    },
  };
}

/**
 * An operator's restart: closes the fixture's server and enclave, edits its configuration file (the edit
 * must change it), then opens the enclave again, unseals it with the development shares and serves it.
 * The tokens and principals stay the fixture's; closing the result removes the fixture's directory.
 */
export async function restartEdited(h: HttpFixture, edit: (yaml: string) => string): Promise<HttpFixture> {
  await h.app.close();
  await h.enclave.close();
  const yaml = readFileSync(h.configPath, 'utf8');
  const edited = edit(yaml);
  assert.notEqual(edited, yaml, 'the edit must change the configuration');
  writeFileSync(h.configPath, edited);
  const enclave = await openEnclave(loadConfig(h.configPath));
  for (const share of readDevShares(h.dataDir) ?? []) await enclave.seal.submit(share);
  return served({ ...h, enclave }, await buildServer(enclave), async () => {
    await enclave.close();
    rmSync(h.dir, { recursive: true, force: true });
  });
}

export function json<T = Record<string, unknown>>(res: LightMyRequestResponse): T {
  return JSON.parse(res.body) as T;
}

export function errorCode(res: LightMyRequestResponse): string | undefined {
  const body = json<{ error?: { code?: string } }>(res);
  return body.error?.code;
}
