// The request body of C2SP tlog-witness `add-checkpoint`:
//   old <size>\n  <base64 consistency-proof hash>\n (0..63)  \n  <signed checkpoint>
import { EnclaveError } from '../errors.ts';
import { decodeBase64, decodeUtf8, encodeBase64, parseDecimal } from './encoding.ts';
import { HASH_SIZE, checkCount } from './merkle.ts';
import { MAX_NOTE_SIZE, splitNote } from './note.ts';

/** tlog-witness: "The client MUST NOT send more than 63 consistency proof lines." */
export const MAX_CONSISTENCY_PROOF_LINES = 63;
/** The body is the proof (at most 63 × 45 bytes) and one note. */
export const MAX_ADD_CHECKPOINT_SIZE = MAX_NOTE_SIZE + 4096;

export interface AddCheckpointRequest {
  readonly oldSize: number;
  readonly proof: readonly Uint8Array[];
  /** The signed checkpoint note, verbatim. */
  readonly checkpoint: string;
}

function malformed(message: string): never {
  throw new EnclaveError('invalid_log_data', message);
}

export function formatAddCheckpoint(req: AddCheckpointRequest): string {
  checkCount(req.oldSize, 'old size');
  if (req.proof.length > MAX_CONSISTENCY_PROOF_LINES) malformed(`a consistency proof has at most ${MAX_CONSISTENCY_PROOF_LINES} hashes`);
  for (const h of req.proof) if (h.byteLength !== HASH_SIZE) malformed(`a proof hash is ${HASH_SIZE} bytes`);
  splitNote(req.checkpoint);
  return `old ${req.oldSize}\n${req.proof.map((h) => `${encodeBase64(h)}\n`).join('')}\n${req.checkpoint}`;
}

/** Parses an add-checkpoint body strictly (`invalid_log_data` on any deviation). The note is not verified here. */
export function parseAddCheckpoint(body: string | Uint8Array): AddCheckpointRequest {
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  if (size > MAX_ADD_CHECKPOINT_SIZE) malformed(`add-checkpoint body is larger than ${MAX_ADD_CHECKPOINT_SIZE} bytes`);
  let rest = typeof body === 'string' ? body : decodeUtf8(body, 'add-checkpoint body');
  const line = (): string => {
    const nl = rest.indexOf('\n');
    if (nl < 0) malformed('add-checkpoint body ends before the blank line that precedes the checkpoint');
    const l = rest.slice(0, nl);
    rest = rest.slice(nl + 1);
    return l;
  };
  const first = line();
  if (!first.startsWith('old ')) malformed('add-checkpoint body must start with the line "old <size>"');
  const oldSize = parseDecimal(first.slice(4), 'old size');
  const proof: Uint8Array[] = [];
  for (let l = line(); l !== ''; l = line()) {
    if (proof.length === MAX_CONSISTENCY_PROOF_LINES) malformed(`more than ${MAX_CONSISTENCY_PROOF_LINES} consistency proof lines`);
    const h = decodeBase64(l, `consistency proof line ${proof.length + 1}`);
    if (h.byteLength !== HASH_SIZE) malformed(`consistency proof line ${proof.length + 1} is not a ${HASH_SIZE}-byte hash`);
    proof.push(h);
  }
  splitNote(rest);
  return { oldSize, proof, checkpoint: rest };
}
