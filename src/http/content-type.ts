// The Content-Type of a request, checked before the parser sees the body. JSON between systems is UTF-8
// (RFC 8259 §8.1). A body declared in another charset would be read as UTF-8 anyway, so misread or
// refused as invalid JSON; it is refused as a media type this API does not take instead (415, RFC 9110
// §15.5.16). A Content-Type given twice is refused too (below).
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

/**
 * Throws invalid_request for a request that gives Content-Type more than once (RFC 9110 §5.3: it is no
 * list). Node keeps the first and drops the others silently, while a proxy or filter in front may have
 * read the body by another one (checked as text/plain, parsed here as JSON): such a request is ambiguous.
 */
export function refuseRepeatedContentType(request: FastifyRequest): void {
  if (request.headers['content-type'] === undefined) return;
  const raw = request.raw.rawHeaders;
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name?.length === 12 && name.toLowerCase() === 'content-type' && ++seen > 1) {
      throw new EnclaveError('invalid_request', 'send one Content-Type header, not several', { details: { field: 'Content-Type' } });
    }
  }
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
