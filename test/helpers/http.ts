// In-process HTTP: a real server over a real fixture, driven with fastify.inject (no sockets).
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildServer } from '../../src/http/server.ts';
import { makeFixture, SERVICE_PURPOSE, type Fixture, type RoleName } from './fixture.ts';

export interface HttpFixture extends Fixture {
  readonly app: FastifyInstance;
  /** Sends a request as a demo role (or without a token for `null`). */
  call(as: RoleName | null, method: InjectOptions['method'], url: string, payload?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
}

export async function makeHttpFixture(options: Parameters<typeof makeFixture>[0] = {}): Promise<HttpFixture> {
  const f = await makeFixture(options);
  const app = await buildServer(f.enclave);
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
      await f.close();
    },
  };
}

export function json<T = Record<string, unknown>>(res: LightMyRequestResponse): T {
  return JSON.parse(res.body) as T;
}

export function errorCode(res: LightMyRequestResponse): string | undefined {
  const body = json<{ error?: { code?: string } }>(res);
  return body.error?.code;
}
