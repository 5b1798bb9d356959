// JSON between systems is UTF-8 (RFC 8259 §8.1). A body declared in another charset would be read as
// UTF-8 anyway, so misread or refused as invalid JSON; it is refused as a media type this API does not
// take instead (415, RFC 9110 §15.5.16), before the parser sees it.
import type { FastifyRequest } from 'fastify';
import { EnclaveError } from '../core/errors.ts';

const CHARSET = /;[\t ]*charset[\t ]*=[\t ]*(?:"([^"]*)"|([^;\t ]*))/i;

/** Throws unsupported_media_type for a body whose Content-Type names a charset other than UTF-8. */
export function refuseForeignCharset(request: FastifyRequest): void {
  const type = request.headers['content-type'];
  if (type === undefined || !hasBody(request)) return;
  const m = CHARSET.exec(type);
  if (!m) return;
  const charset = (m[1] ?? m[2] ?? '').toLowerCase();
  if (charset === 'utf-8' || charset === 'utf8') return;
  throw new EnclaveError('unsupported_media_type', 'send the body as application/json in UTF-8 (charset=utf-8, or no charset): JSON is exchanged in UTF-8 only (RFC 8259 §8.1)');
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
