export { KEY_BYTES, aeadKey, open, randomKey, seal, type AeadKey } from './aead.ts';
export { deriveKey, rootCheck, rootCheckMatches, siteKek } from './key-derivation.ts';
export { combineShares, decodeShare, encodeShare, shareFingerprint, splitSecret } from './shamir-shares.ts';
export { TOKEN_PREFIX, hashToken, looksLikeToken, newTokenSecret } from './token-secret.ts';
