// C2SP tlog-proof (c2sp.org/tlog-proof@v1): a self-contained, offline-verifiable inclusion proof:
//   c2sp.org/tlog-proof@v1
//   [extra <base64>]
//   index <N>
//   <base64 hash>... (leaf's sibling first, at most 63)
//   <blank line>
//   <signed checkpoint, verbatim>
import { EnclaveError } from '../errors.ts';
import { decodeBase64, encodeBase64, parseDecimal } from './encoding.ts';
import { HASH_SIZE, checkCount, checkRecord, leafHash } from './merkle.ts';
import { openCheckpoint, type OpenedCheckpoint } from './checkpoint.ts';
import { splitNote, type NoteVerifier } from './note.ts';

export const TLOG_PROOF_HEADER = 'c2sp.org/tlog-proof@v1';
/** A tree of at most 2^63 leaves has inclusion proofs of at most 63 hashes. */
export const MAX_PROOF_HASHES = 63;

export interface TlogProof {
  readonly extra?: Uint8Array;
  readonly index: number;
  readonly proof: readonly Uint8Array[];
  /** The signed checkpoint note (text, blank line, signature lines). */
  readonly checkpoint: string;
}

function malformed(message: string): never {
  throw new EnclaveError('invalid_log_data', message);
}

export function formatTlogProof(p: TlogProof): string {
  checkCount(p.index, 'proof index');
  if (p.proof.length > MAX_PROOF_HASHES) malformed(`an inclusion proof has at most ${MAX_PROOF_HASHES} hashes`);
  for (const h of p.proof) if (h.byteLength !== HASH_SIZE) malformed(`a proof hash is ${HASH_SIZE} bytes`);
  splitNote(p.checkpoint);
  const lines = [TLOG_PROOF_HEADER];
  if (p.extra !== undefined) lines.push(`extra ${encodeBase64(p.extra)}`);
  lines.push(`index ${p.index}`, ...p.proof.map(encodeBase64), '');
  return `${lines.join('\n')}\n${p.checkpoint}`;
}

export function parseTlogProof(text: string): TlogProof {
  let rest = text;
  const line = (what: string): string => {
    const nl = rest.indexOf('\n');
    if (nl < 0) malformed(`tlog-proof ends before its ${what}`);
    const l = rest.slice(0, nl);
    rest = rest.slice(nl + 1);
    return l;
  };
  if (line('header') !== TLOG_PROOF_HEADER) malformed(`a tlog-proof starts with the line ${TLOG_PROOF_HEADER}`);
  let next = line('index line');
  let extra: Uint8Array | undefined;
  if (next.startsWith('extra ')) {
    extra = decodeBase64(next.slice('extra '.length), 'tlog-proof extra data');
    next = line('index line');
  }
  if (!next.startsWith('index ')) malformed('tlog-proof lacks its index line');
  const index = parseDecimal(next.slice('index '.length), 'tlog-proof index');
  const proof: Uint8Array[] = [];
  for (let l = line('blank line'); l !== ''; l = line('blank line')) {
    if (proof.length === MAX_PROOF_HASHES) malformed(`tlog-proof has more than ${MAX_PROOF_HASHES} proof hashes`);
    const h = decodeBase64(l, `tlog-proof hash ${proof.length}`);
    if (h.byteLength !== HASH_SIZE) malformed(`tlog-proof hash ${proof.length} is ${h.byteLength} bytes, not ${HASH_SIZE}`);
    proof.push(h);
  }
  splitNote(rest);
  return extra === undefined ? { index, proof, checkpoint: rest } : { extra, index, proof, checkpoint: rest };
}

/**
 * Verifies a tlog-proof for `entry` offline: the checkpoint's log signature (and origin), then the
 * inclusion of leaf `index` in that tree. Witness cosignatures are reported, not required here.
 */
export function verifyTlogProof(
  p: TlogProof,
  entry: Uint8Array,
  log: NoteVerifier,
  options: { readonly origin?: string; readonly witnesses?: readonly NoteVerifier[] } = {},
): OpenedCheckpoint {
  const opened = openCheckpoint(p.checkpoint, log, options);
  checkRecord(p.proof, opened.checkpoint.size, opened.checkpoint.root, p.index, leafHash(entry));
  return opened;
}
