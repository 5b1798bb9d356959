// Bearer tokens: 256 random bits behind a greppable prefix; only their SHA-256 is stored.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashToken, looksLikeToken, newTokenSecret, TOKEN_PREFIX } from '../../src/crypto/token-secret.ts';

void describe('token secrets', () => {
  void it('are enc_ followed by 43 base64url characters (32 random bytes)', () => {
    for (let i = 0; i < 100; i++) {
      const t = newTokenSecret();
      assert.match(t, /^enc_[A-Za-z0-9_-]{43}$/);
      assert.equal(Buffer.from(t.slice(TOKEN_PREFIX.length), 'base64url').length, 32);
      assert.equal(looksLikeToken(t), true);
    }
  });

  void it('never repeat', () => {
    const seen = new Set(Array.from({ length: 2000 }, newTokenSecret));
    assert.equal(seen.size, 2000);
  });

  void it('malformed secrets are recognized as such', () => {
    const t = newTokenSecret();
    const body = t.slice(4);
    for (const bad of ['', 'enc_', `enc_${body.slice(1)}`, `${t}A`, `ENC_${body}`, `tok_${body}`, body, `enc_${body.slice(1)}+`, `enc_${body.slice(1)}=`, `enc_${body.slice(1)} `, ` ${t}`]) {
      assert.equal(looksLikeToken(bad), false, JSON.stringify(bad));
    }
  });

  void it('hash to lowercase hex SHA-256, deterministically', () => {
    assert.equal(hashToken('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const t = newTokenSecret();
    assert.equal(hashToken(t), hashToken(t));
    assert.match(hashToken(t), /^[0-9a-f]{64}$/);
    assert.notEqual(hashToken(t), hashToken(newTokenSecret()));
    assert.equal(hashToken(t).includes(t.slice(4, 20)), false);
  });
});
