// Bearer tokens: 256 random bits, so a plain SHA-256 is a safe verifier (no slow hash needed: nothing to
// brute-force). Only the hash is stored. The prefix makes leaked tokens easy to find by secret scanners.
import { hash, randomBytes } from 'node:crypto';

export const TOKEN_PREFIX = 'enc_';

export function newTokenSecret(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(secret: string): string {
  // One-shot: every request hashes its token, and a Hash object per call costs about three times as much.
  return hash('sha256', secret, 'hex');
}

export function looksLikeToken(secret: string): boolean {
  return secret.startsWith(TOKEN_PREFIX) && secret.length === TOKEN_PREFIX.length + 43 && /^[A-Za-z0-9_-]+$/.test(secret.slice(TOKEN_PREFIX.length));
}
