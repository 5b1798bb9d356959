// The log's witness client must keep only cosignatures over the very checkpoint it submitted. An answer
// that starts with a blank line, or carries text and then a blank line, moves the note's last blank line
// (signed-note: "the text is separated from the signatures by the last empty line") into the answer: a
// cosignature over that other text verified, was appended to the published checkpoint, and there failed
// for every verifier trusting that witness, which then refuses the whole note (a known key's signature
// that does not verify).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isEnclaveError } from '../../src/core/errors.ts';
import { SIG_TYPE_COSIGNATURE, cosignatureVerifierFromKey, cosignerFromKey, generateNoteKey, noteVerifier, openCheckpoint, proveTree, signatureLines, splitNote } from '../../src/core/tlog/index.ts';
import { addCheckpoint, witnessCosigner } from '../../src/services/witness-client.ts';
import { StaticLog } from '../core/tlog/static-log.ts';

async function answering(body: (checkpointText: string) => string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const sent = Buffer.concat(chunks).toString('utf8');
      // The body is "old N\n" [proof lines] "\n" followed by the note.
      const note = sent.slice(sent.indexOf('\n\n') + 2);
      res.end(body(splitNote(note).text));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

test('addCheckpoint: a cosignature over another text than the submitted checkpoint is witness_unavailable, never appended', async () => {
  const log = new StaticLog();
  log.append(3);
  const note = await log.publish();
  const key = generateNoteKey('w.example', SIG_TYPE_COSIGNATURE);
  const cosigner = cosignerFromKey(key.skey);
  // A leading blank line: the cosignature is over the checkpoint text plus an empty line.
  const blank = await answering((text) => `\n${signatureLines(`${text}\n`, [cosigner])}`);
  // Text, then a blank line: the cosignature is over the checkpoint text plus that text.
  const extra = await answering((text) => `junk\n\n${signatureLines(`${text}\njunk\n`, [cosigner])}`);
  try {
    for (const w of [blank, extra]) {
      let lines: string | undefined;
      try {
        lines = await addCheckpoint({ url: w.url, vkey: key.vkey }, 0, [], note);
      } catch (err) {
        assert.ok(isEnclaveError(err, 'witness_unavailable'), String(err));
        continue;
      }
      // Accepted: the published note then fails for anyone trusting the witness.
      assert.doesNotThrow(
        () => openCheckpoint(note + lines, noteVerifier(log.vkey), { witnesses: [cosignatureVerifierFromKey(key.vkey)] }),
        'the client accepted a cosignature that does not verify on the checkpoint it submitted',
      );
    }
  } finally {
    for (const { server } of [blank, extra]) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }
});

test('witnessCosigner: one witness answering a cosignature over another text does not spoil the note the log opens before publishing', async () => {
  const log = new StaticLog();
  log.append(3);
  const note = await log.publish();
  const honestKey = generateNoteKey('honest.example', SIG_TYPE_COSIGNATURE);
  const badKey = generateNoteKey('bad.example', SIG_TYPE_COSIGNATURE);
  const honest = await answering((text) => signatureLines(text, [cosignerFromKey(honestKey.skey)]));
  const bad = await answering((text) => `\n${signatureLines(`${text}\n`, [cosignerFromKey(badKey.skey)])}`);
  const errors: unknown[] = [];
  try {
    const cosign = witnessCosigner(
      [
        { url: honest.url, vkey: honestKey.vkey },
        { url: bad.url, vkey: badKey.vkey },
      ],
      { onError: (err) => errors.push(err) },
    );
    const out = await cosign(note, { size: 0, proof: (from) => proveTree(log.tree.size, from, log.tree) });
    // What the log service does before publishing (log.witness_quorum 1): the honest cosignature counts.
    const opened = openCheckpoint(out, noteVerifier(log.vkey), { witnesses: [cosignatureVerifierFromKey(honestKey.vkey), cosignatureVerifierFromKey(badKey.vkey)] });
    assert.deepEqual(
      opened.cosigners.map((w) => w.name),
      ['honest.example'],
    );
    assert.equal(errors.length, 1);
    assert.ok(isEnclaveError(errors[0], 'witness_unavailable'));
  } finally {
    for (const { server } of [honest, bad]) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }
});
