// Strict text encodings shared by the C2SP formats: standard base64 (RFC 4648 §4) and ASCII decimals
// without leading zeros. Strict means canonical: one byte string has exactly one accepted spelling, so
// a tampered or padded field never parses as the same value.
import { EnclaveError } from '../errors.ts';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Decodes canonical standard base64 (padding required, zero trailing bits), or throws `invalid_log_data`. */
export function decodeBase64(text: string, what: string): Uint8Array {
  if (!BASE64.test(text)) throw new EnclaveError('invalid_log_data', `${what} is not valid base64`);
  const bytes = Buffer.from(text, 'base64');
  // Rejects non-zero trailing bits ("YR==" and "YQ==" would otherwise both decode to "a").
  if (bytes.toString('base64') !== text) throw new EnclaveError('invalid_log_data', `${what} is not canonical base64`);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Parses an ASCII decimal with no leading zeros that fits in a safe integer, or throws `invalid_log_data`. */
export function parseDecimal(text: string, what: string): number {
  if (!DECIMAL.test(text)) throw new EnclaveError('invalid_log_data', `${what} must be a decimal number without leading zeros`);
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new EnclaveError('invalid_log_data', `${what} is too large`);
  return value;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes UTF-8 strictly (no replacement characters), or throws `invalid_log_data`. */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch (cause) {
    throw new EnclaveError('invalid_log_data', `${what} is not valid UTF-8`, { cause });
  }
}
