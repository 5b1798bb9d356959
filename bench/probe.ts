// Before measuring, one request to each server proves it answers what the benchmark claims: the
// baseline returns the stored public JSON; the gated server returns the record with its protected
// fields decrypted (nothing withheld), and refuses the same request without a token.
import { recordRef, type Manifest } from './dataset.ts';
import { recordPath } from './request-paths.ts';
import type { ServerProcess } from './server-process.ts';

async function get(url: string, headers: Record<string, string>): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { headers });
  return { status: res.status, body: await res.json() };
}

export async function probe(server: ServerProcess, manifest: Manifest, headers: Record<string, string>): Promise<void> {
  const ref = recordRef(Math.floor(manifest.subjects / 2), 0);
  const url = server.url + recordPath(ref.collection, ref.id);
  const { status, body } = await get(url, headers);
  if (status !== 200) throw new Error(`${server.kind} probe: ${url} answered ${status}: ${JSON.stringify(body)}`);
  if (server.kind === 'baseline') {
    if (typeof body !== 'object' || body === null || 'email' in body) throw new Error(`baseline probe: expected the stored public JSON, got ${JSON.stringify(body)}`);
    return;
  }
  const view = body as { data?: Record<string, unknown>; withheld?: unknown[] };
  if (typeof view.data?.['email'] !== 'string' || view.withheld?.length !== 0) {
    throw new Error(`gated probe: expected decrypted protected fields, got ${JSON.stringify(body)}`);
  }
  const anonymous = await get(url, {});
  if (anonymous.status !== 401) throw new Error(`gated probe: a request without a token answered ${anonymous.status}, not 401`);
}
