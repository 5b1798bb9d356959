// A small fetch-based client of the Enclave API for the CLI's client commands. An error answer
// `{"error": {"code", "message"}}` becomes an EnclaveError with the server's code and message; a server
// that cannot be reached or answers something else (not JSON, or JSON of another shape than a command
// reads: misshapenAnswer) becomes a one-line CliError. The bearer token is sent in the Authorization
// header only and never appears in a message: a malformed one is refused before sending, and fetch's own
// messages have the header's value blanked.
import { EnclaveError, isErrorCode } from '../core/errors.ts';
import { readLimited } from '../services/read-limited.ts';
import { dispatcherFor, presentsClientCertificate, trustsExtraCas } from './tls-client.ts';
import { CliError, usageError } from './fail.ts';
import { printable } from './output.ts';

export interface ApiResponse<T> {
  readonly status: number;
  readonly body: T;
  readonly etag: string | undefined;
}

export interface RequestOptions {
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Send the bearer token (default true). The seal endpoints used before any token can be checked do not. */
  readonly auth?: boolean;
}

const TIMEOUT_MS = 30_000;

/** No Enclave answer comes near it (a search page is at most 1,000 entries of at most 64 KiB). */
export const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

/** The 2xx JSON answers ApiClient has handed to commands in this process, and the server of the last one (misshapenAnswer). */
const handedOver = { count: 0, server: '' };

/** How many 2xx JSON answers have been handed to commands so far: runCli notes it before a command runs. */
export function answersHandedOver(): number {
  return handedOver.count;
}

/**
 * A command's failure, as it is to be reported: a TypeError or RangeError thrown once a 2xx answer was
 * handed over since `before` (a member missing, `records` not a list, a time that is no time) is that
 * answer not having the shape the API documents: bad_response naming the server, not `internal`.
 * Anything else is returned as it is.
 */
export function misshapenAnswer(err: unknown, before: number): unknown {
  if (handedOver.count === before || !(err instanceof TypeError || err instanceof RangeError)) return err;
  return new CliError('bad_response', `the server at ${handedOver.server} answered with JSON of another shape than this CLI expects (${err.message}); is it an Enclave server of this version?`, { cause: err });
}

export interface RawResponse {
  readonly status: number;
  readonly body: Uint8Array;
  readonly etag: string | undefined;
}

/**
 * One HTTP exchange with the CLI's timeout, its body read whole up to `maxBytes` (a larger answer is
 * `bad_response`). A server that cannot be reached, or does not answer in time, is a one-line CliError
 * naming `where`; `hint` says what to check.
 */
export async function send(url: string, init: RequestInit, where: string, hint: string, maxBytes = MAX_RESPONSE_BYTES): Promise<RawResponse> {
  let res: RawResponse | undefined;
  let redirect: { readonly status: number; readonly to: string | null } | undefined;
  // Outside the try: TLS options that cannot be used are a usage error, not an unreachable server.
  const dispatcher = dispatcherFor(url);
  try {
    // Redirects are not followed: a 307 or 308 would send the body (an unseal share, a record) to wherever
    // the answer points, and the API never redirects. Said below, with where it pointed.
    const answer = await fetch(url, { ...init, ...(dispatcher === undefined ? {} : { dispatcher }), redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (answer.status >= 300 && answer.status < 400) {
      await answer.body?.cancel();
      redirect = { status: answer.status, to: answer.headers.get('location') };
    } else {
      const body = await readLimited(answer, maxBytes);
      if (body !== undefined) res = { status: answer.status, body, etag: answer.headers.get('etag') ?? undefined };
    }
  } catch (err) {
    if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
      throw new CliError('unreachable', `no answer from ${where} within ${TIMEOUT_MS / 1000} s`, { cause: err });
    }
    const cause = err instanceof Error ? (err.cause as NodeJS.ErrnoException | undefined) : undefined;
    const why = cause?.code ?? (cause instanceof Error ? cause.message : err instanceof Error ? err.message : 'error');
    throw new CliError('unreachable', `cannot reach ${where} (${withoutAuthorization(why, init.headers)}); ${tlsHint(cause?.code, url) ?? hint}`, { cause: err });
  }
  if (redirect !== undefined) {
    const to = redirect.to === null ? '' : ` to ${printable(redirect.to.slice(0, 200))}`;
    throw new CliError('bad_response', `${where} answered with a redirect (HTTP ${redirect.status}${to}), which the CLI does not follow (it would send there what it sends, a share or a token included); if that is the server, give its address instead`);
  }
  if (res === undefined) throw new CliError('bad_response', `${where} answered more than ${maxBytes.toLocaleString('en-US')} bytes`);
  return res;
}

/** OpenSSL's verification failures (X509_V_ERR_*) as Node names them: the certificate chain is not trusted. */
const UNTRUSTED = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE']);

/** What to do about a TLS failure, undefined for any other. The connection is refused, never retried without verification. */
export function tlsHint(code: string | undefined, url: string): string | undefined {
  if (code === undefined) return undefined;
  if (UNTRUSTED.has(code)) {
    return trustsExtraCas()
      ? 'the server\'s TLS certificate is not issued by a CA this CLI trusts, those of --ca-file (or ENCLAVE_CA_FILE) included: give the file holding the CA that issued it'
      : 'the server\'s TLS certificate is not issued by a CA this CLI trusts: pass --ca-file with the CA that issued it (or set ENCLAVE_CA_FILE)';
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'the server\'s TLS certificate is not for this host name: connect by a name or address the certificate lists';
  // X509_V_ERR_INVALID_PURPOSE: a key usage or extended key usage without TLS server authentication (RFC 5280 §4.2.1.3, §4.2.1.12).
  if (code === 'INVALID_PURPOSE') return 'the server\'s TLS certificate is not one for a TLS server (its key usage or extended key usage excludes it): issue it for serverAuth';
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return 'the server\'s TLS certificate is outside its validity period (or this machine\'s clock is wrong)';
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') return 'the server does not speak TLS there: try http://';
  if (code === 'UND_ERR_SOCKET' && url.startsWith('http:')) return 'the server closed the connection; if it serves HTTPS (server.tls), use https://';
  // Under TLS 1.3 a server refuses a client certificate (or its absence) after the client's side of the
  // handshake is done (RFC 8446 §4.4.2.4): fetch sees only the connection closed.
  if ((code === 'UND_ERR_SOCKET' || code === 'ECONNRESET') && url.startsWith('https:')) {
    return presentsClientCertificate()
      ? 'the server closed the connection; if it requires TLS client certificates (server.tls.client_ca_file), it refused this one: give one that a CA it lists issued (--client-cert, --client-key)'
      : 'the server closed the connection; if it requires a TLS client certificate (server.tls.client_ca_file), pass --client-cert and --client-key (or ENCLAVE_CLIENT_CERT and ENCLAVE_CLIENT_KEY)';
  }
  // TLS 1.2 and other servers: a handshake failure alert (40) or certificate_required (116).
  if (code === 'ERR_SSL_SSL/TLS_ALERT_HANDSHAKE_FAILURE' || code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED') {
    return 'the server requires a TLS client certificate: pass --client-cert and --client-key (or ENCLAVE_CLIENT_CERT and ENCLAVE_CLIENT_KEY)';
  }
  if (code === 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA' || code === 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE') {
    return 'the server refused the TLS client certificate (--client-cert): give one that a CA its server.tls.client_ca_file lists issued';
  }
  return undefined;
}

/**
 * `text` with the Authorization header's value blanked, whole and piece by piece: fetch quotes a header
 * value it refuses ('Headers.append: "Bearer enc_…" is an invalid header value'), secret and all.
 */
function withoutAuthorization(text: string, headers: RequestInit['headers']): string {
  const pairs = headers === undefined ? [] : headers instanceof Headers ? [...headers.entries()] : Array.isArray(headers) ? headers : Object.entries(headers);
  let out = text;
  for (const [name, value] of pairs) {
    if (name?.toLowerCase() !== 'authorization' || value === undefined) continue;
    for (const part of [value, value.trim(), ...value.split(/\s+/)]) if (part.length >= 4) out = out.split(part).join('[redacted]');
  }
  return out;
}

/**
 * The bearer token given (--token, ENCLAVE_TOKEN), or undefined for none. Surrounding white space goes
 * (a token read with `$(cat file)` may keep a \r); what is left must be visible ASCII, as every token is
 * (src/crypto/token-secret.ts). Anything else, two tokens pasted together say, is refused without being
 * shown: it is a secret.
 */
export function bearerToken(value: string | undefined): string | undefined {
  const token = value?.trim() ?? '';
  if (token === '') return undefined;
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw usageError('the bearer token (--token or ENCLAVE_TOKEN) holds a space, a line break or another character no token has; pass exactly one token (it is not shown here)');
  }
  return token;
}

/** The Enclave error an answer's body `{"error": {"code", "message"}}` carries, its message after `prefix`; undefined if it carries none. */
export function enclaveErrorOf(body: string, prefix = ''): EnclaveError | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
  const error = typeof doc === 'object' && doc !== null ? (doc as { error?: unknown }).error : undefined;
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code !== 'string' || !isErrorCode(code)) return undefined;
  return new EnclaveError(code, typeof message === 'string' ? `${prefix}${message}` : undefined);
}

export function normalizeServerUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // Not shown if it has an @: it may carry a user name and password.
    throw usageError(`--server must be a URL such as http://127.0.0.1:8700 (${value.includes('@') ? 'the value given is not shown: it holds an @' : `got "${value}"`})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`--server must be an http:// or https:// URL (got "${url.protocol}")`);
  if (url.username !== '' || url.password !== '') throw usageError('--server must not carry credentials; pass the token with --token or ENCLAVE_TOKEN');
  return url.origin + url.pathname.replace(/\/+$/, '');
}

/** Encodes one path segment (ids may contain characters with a meaning in URLs). */
export function seg(value: string): string {
  return encodeURIComponent(value);
}

export class ApiClient {
  readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly purpose: string | undefined;

  constructor(baseUrl: string, token?: string, purpose?: string) {
    this.baseUrl = normalizeServerUrl(baseUrl);
    // Checked when a request needs it (bearerToken): the seal endpoints send none, whatever is set.
    this.token = token;
    this.purpose = purpose === undefined || purpose === '' ? undefined : purpose;
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (options.auth !== false) {
      const token = bearerToken(this.token);
      if (token === undefined) throw usageError('this command needs a bearer token: pass --token or set ENCLAVE_TOKEN');
      headers.authorization = `Bearer ${token}`;
      if (this.purpose !== undefined) headers['enclave-purpose'] = this.purpose;
    }
    let payload: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(options.body);
    }
    const res = await send(this.baseUrl + path, { method, headers, ...(payload === undefined ? {} : { body: payload }) }, this.baseUrl, 'is `enclave serve` running there? (--server, ENCLAVE_SERVER)');
    const text = new TextDecoder().decode(res.body);
    if (res.status >= 200 && res.status < 300) {
      if (text === '') return { status: res.status, body: undefined as T, etag: res.etag };
      return { status: res.status, body: this.parse(text, res.status) as T, etag: res.etag };
    }
    throw enclaveErrorOf(text) ?? new CliError('bad_response', `the server at ${this.baseUrl} answered HTTP ${res.status} without an Enclave error body; is it an Enclave server?`);
  }

  get<T>(path: string, options?: RequestOptions): Promise<ApiResponse<T>> {
    return this.request<T>('GET', path, options);
  }

  post<T>(path: string, body: unknown, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    return this.request<T>('POST', path, { ...options, body });
  }

  private parse(text: string, status: number): unknown {
    let doc: unknown;
    try {
      doc = JSON.parse(text) as unknown;
    } catch {
      throw new CliError('bad_response', `the server at ${this.baseUrl} answered HTTP ${status} with a body that is not JSON; is it an Enclave server?`);
    }
    // Every answer of the API is an object; a command reads its members.
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      throw new CliError('bad_response', `the server at ${this.baseUrl} answered HTTP ${status} with JSON that is not an object; is it an Enclave server?`);
    }
    handedOver.count += 1;
    handedOver.server = this.baseUrl;
    return doc;
  }
}
