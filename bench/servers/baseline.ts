// (a) The baseline: the least a server can do to answer the same request. One Fastify route, no auth,
// no decision, no decryption: read the row by primary key from the same SQLite file with a prepared
// statement (the statement the store itself uses) and return its stored JSON as is.
import Fastify from 'fastify';
import { DatabaseSync } from 'node:sqlite';
import type { BenchServer } from './bench-server.ts';

interface RecordRow {
  readonly public_json: string;
}

export function buildBaselineServer(siteDbPath: string): BenchServer {
  const db = new DatabaseSync(siteDbPath);
  const byKey = db.prepare('SELECT * FROM records WHERE collection = ? AND id = ?');
  const app = Fastify({ logger: false });
  app.get<{ Params: { collection: string; id: string } }>('/v1/collections/:collection/records/:id', (request, reply) => {
    const row = byKey.get(request.params.collection, request.params.id) as RecordRow | undefined;
    if (!row) return reply.code(404).send({ error: 'not found' });
    return reply.type('application/json; charset=utf-8').send(row.public_json);
  });
  return {
    app,
    async close() {
      await app.close();
      db.close();
    },
  };
}
