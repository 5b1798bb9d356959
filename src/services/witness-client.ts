// What a log calls to have its checkpoints cosigned (C2SP tlog-witness, add-checkpoint), and a helper
// that cosigns one checkpoint with several witnesses, tracking each witness's latest cosigned size.
import { EnclaveError, isEnclaveError } from '../core/errors.ts';
import { parseCheckpoint } from '../core/tlog/checkpoint.ts';
import { cosignatureVerifierFromKey } from '../core/tlog/cosignature.ts';
import { parseDecimal } from '../core/tlog/encoding.ts';
import { openNote, splitNote } from '../core/tlog/note.ts';
import { formatAddCheckpoint } from '../core/tlog/witness-protocol.ts';
import { readLimited } from './read-limited.ts';

export interface WitnessEndpoint {
  /** The witness's submission prefix: `<url>/add-checkpoint` is posted to. */
  readonly url: string;
  /** Its cosignature/v1 verifier key (type 0x04). */
  readonly vkey: string;
}

export interface WitnessCallOptions {
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5000;
const MAX_RESPONSE = 64 * 1024;

function unavailable(witness: WitnessEndpoint, why: string, cause?: unknown): EnclaveError {
  return new EnclaveError('witness_unavailable', `witness ${witness.url}: ${why}`, cause === undefined ? undefined : { cause });
}

/**
 * Submits `signedCheckpoint` with a consistency proof from `oldSize` and resolves with the witness's
 * verified cosignature line(s). Rejects with `log_size_conflict` (details.size: the witness's size) when
 * the witness knows another size, with the witness's own error code for a refusal it explains, and with
 * `witness_unavailable` on a timeout, a network failure or an answer without a valid cosignature.
 */
export async function addCheckpoint(
  witness: WitnessEndpoint,
  oldSize: number,
  proof: readonly Uint8Array[],
  signedCheckpoint: string,
  options: WitnessCallOptions = {},
): Promise<string> {
  const verifier = cosignatureVerifierFromKey(witness.vkey);
  const body = formatAddCheckpoint({ oldSize, proof, checkpoint: signedCheckpoint });
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let res: Response;
  let bytes: Uint8Array | undefined;
  try {
    res = await fetch(`${witness.url.replace(/\/+$/, '')}/add-checkpoint`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    bytes = await readLimited(res, MAX_RESPONSE);
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    throw unavailable(witness, timedOut ? `no answer within ${timeoutMs} ms` : 'cannot be reached', err);
  }
  if (bytes === undefined) throw unavailable(witness, `the answer is larger than ${MAX_RESPONSE} bytes`);
  const text = new TextDecoder().decode(bytes);
  if (res.status === 409 && (res.headers.get('content-type') ?? '').startsWith('text/x.tlog.size')) {
    let size: number;
    try {
      size = parseDecimal(text.replace(/\n$/, ''), 'the witness\'s size');
    } catch (cause) {
      throw unavailable(witness, 'answered 409 without a valid tree size', cause);
    }
    throw new EnclaveError('log_size_conflict', `witness ${witness.url} has cosigned a checkpoint of size ${size}, not ${oldSize}`, { details: { size } });
  }
  if (res.status !== 200) throw refusal(witness, res.status, text);
  // The answer is signature lines over our checkpoint: keep only the witness's own, once verified.
  let lines: string;
  try {
    const { text: checkpointText } = splitNote(signedCheckpoint);
    const opened = openNote(`${checkpointText}\n${text}`, [verifier]);
    // A blank line in the answer would move the note's last one (signed-note): its signatures would then
    // be over another text, and appended to this checkpoint they fail for everyone trusting the witness.
    if (opened.text !== checkpointText) throw new EnclaveError('invalid_log_data', 'the answer is not signature lines alone (it holds a blank line)');
    lines = opened.verified.map((s) => s.line).join('');
  } catch (cause) {
    throw unavailable(witness, 'the answer holds no valid cosignature by its key', cause);
  }
  return lines;
}

/** A refusal with the witness's error code when it sent an Enclave error body, else witness_unavailable. */
function refusal(witness: WitnessEndpoint, status: number, text: string): EnclaveError {
  try {
    const doc = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    const code = doc.error?.code;
    const known = ['invalid_log_data', 'log_signature_invalid', 'unknown_log', 'log_rollback', 'log_proof_invalid'] as const;
    const match = known.find((k) => k === code);
    if (match !== undefined) return new EnclaveError(match, `witness ${witness.url} refused the checkpoint: ${typeof doc.error?.message === 'string' ? doc.error.message : match}`);
  } catch {
    // not an Enclave witness: fall through
  }
  return unavailable(witness, `answered HTTP ${status}`);
}

/** The previous checkpoint the log published, and how to prove consistency from any earlier size. */
export interface PreviousCheckpoint {
  readonly size: number;
  readonly proof: (oldSize: number) => Promise<Uint8Array[]>;
}

export interface WitnessCosignOptions extends WitnessCallOptions {
  /** Told about each witness that did not cosign (the checkpoint is published without its cosignature). */
  readonly onError?: (err: unknown, witness: WitnessEndpoint) => void;
}

/**
 * Returns `cosign(note, previous)`: submits the signed checkpoint to every witness at once and resolves
 * with the note plus every cosignature obtained. Each witness's latest size is remembered; when a
 * witness answers 409 with another size (it restarted, or this process did), the submission is retried
 * once with a proof from that size.
 */
export function witnessCosigner(witnesses: readonly WitnessEndpoint[], options: WitnessCosignOptions = {}): (note: string, previous: PreviousCheckpoint) => Promise<string> {
  for (const w of witnesses) cosignatureVerifierFromKey(w.vkey);
  const sizes = new Map<string, number>();
  return async (note, previous) => {
    const { size } = parseCheckpoint(splitNote(note).text);
    // Witnesses usually share an old size: one consistency proof per size for this round.
    const proofs = new Map<number, Promise<Uint8Array[]>>();
    const proof = (oldSize: number) => {
      let p = proofs.get(oldSize);
      if (!p) {
        p = previous.proof(oldSize);
        proofs.set(oldSize, p);
        // A failed proof is computed afresh by a retry, as before.
        p.catch(() => proofs.delete(oldSize));
      }
      return p;
    };
    const one = async (w: WitnessEndpoint): Promise<string> => {
      let oldSize = sizes.get(w.url) ?? previous.size;
      for (let attempt = 0; ; attempt++) {
        try {
          const lines = await addCheckpoint(w, oldSize, await proof(oldSize), note, options);
          sizes.set(w.url, size);
          return lines;
        } catch (err) {
          const theirs = isEnclaveError(err, 'log_size_conflict') ? err.details?.['size'] : undefined;
          if (attempt > 0 || typeof theirs !== 'number' || theirs > size) throw err;
          oldSize = theirs;
        }
      }
    };
    const results = await Promise.allSettled(witnesses.map(one));
    let out = note;
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') out += r.value;
      else options.onError?.(r.reason, witnesses[i] as WitnessEndpoint);
    });
    return out;
  };
}
