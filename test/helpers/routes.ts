// The API's routes, read from the OpenAPI document the server publishes, so that a new endpoint is
// covered by the adversarial tests without anyone remembering to add it.
import type { FastifyInstance } from 'fastify';

export interface RouteRef {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  /** OpenAPI template, e.g. /v1/subjects/{id} */
  readonly template: string;
}

export async function apiRoutes(app: FastifyInstance): Promise<RouteRef[]> {
  const res = await app.inject({ method: 'GET', url: '/openapi.json' });
  const doc = JSON.parse(res.body) as { paths: Record<string, Record<string, unknown>> };
  const out: RouteRef[] = [];
  for (const [template, ops] of Object.entries(doc.paths)) {
    for (const method of Object.keys(ops)) out.push({ method: method.toUpperCase() as RouteRef['method'], template });
  }
  return out;
}

/** The template with its parameters: each `{name}` encoded as one segment; the wildcard `{*}`, when given, as a path (its slashes kept). */
export function fill(template: string, params: Record<string, string>): string {
  const filled = template.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(params[name] ?? 'x'));
  const wildcard = params['*'];
  return wildcard === undefined ? filled : filled.replace('{*}', () => wildcard.split('/').map(encodeURIComponent).join('/'));
}
