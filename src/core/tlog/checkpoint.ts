// C2SP tlog-checkpoint: the note text "<origin>\n<size>\n<base64 root>\n" followed by optional non-empty
// extension lines. Parsing is strict: decimal size without leading zeros, canonical base64 of a 32-byte root.
import { EnclaveError } from '../errors.ts';
import { decodeBase64, encodeBase64, parseDecimal } from './encoding.ts';
import { HASH_SIZE, checkCount } from './merkle.ts';
import { checkNoteText, openNote, type NoteVerifier, type OpenedNote } from './note.ts';
import { witnessesThatCosigned } from './cosignature.ts';

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
  readonly extensions: readonly string[];
}

function malformed(message: string): never {
  throw new EnclaveError('invalid_log_data', message);
}

/** The checkpoint's note text (ends in a newline). */
export function formatCheckpoint(checkpoint: Checkpoint): string {
  const { origin, size, root, extensions } = checkpoint;
  if (origin.length === 0 || origin.includes('\n')) malformed('checkpoint origin must be one non-empty line');
  checkCount(size, 'checkpoint size');
  if (root.byteLength !== HASH_SIZE) malformed(`checkpoint root must be ${HASH_SIZE} bytes`);
  for (const e of extensions) if (e.length === 0 || e.includes('\n')) malformed('checkpoint extension lines must be non-empty single lines');
  const text = [origin, String(size), encodeBase64(root), ...extensions].map((l) => `${l}\n`).join('');
  checkNoteText(text);
  return text;
}

/** Parses a checkpoint note text (without its signatures). */
export function parseCheckpoint(text: string): Checkpoint {
  checkNoteText(text);
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) malformed('a checkpoint has at least three lines: origin, size, root hash');
  const [origin, sizeLine, rootLine, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin.length === 0) malformed('checkpoint origin is empty');
  const size = parseDecimal(sizeLine, 'checkpoint size');
  const root = decodeBase64(rootLine, 'checkpoint root hash');
  if (root.byteLength !== HASH_SIZE) malformed(`checkpoint root hash is ${root.byteLength} bytes, not ${HASH_SIZE}`);
  if (extensions.some((e) => e.length === 0)) malformed('checkpoint extension lines must be non-empty');
  return { origin, size, root, extensions };
}

export interface OpenedCheckpoint {
  readonly checkpoint: Checkpoint;
  readonly note: OpenedNote;
  /** The given witnesses whose cosignature is on the note and verifies. */
  readonly cosigners: readonly NoteVerifier[];
}

/**
 * Opens a signed checkpoint: the log's own signature must be present and valid, the origin must be the
 * expected one (by default the log key's name), and any signature by a listed witness must verify.
 */
export function openCheckpoint(
  note: string | Uint8Array,
  log: NoteVerifier,
  options: { readonly origin?: string; readonly witnesses?: readonly NoteVerifier[] } = {},
): OpenedCheckpoint {
  const witnesses = options.witnesses ?? [];
  const opened = openNote(note, [log, ...witnesses]);
  if (!opened.verified.some((s) => s.name === log.name && s.keyId === log.keyId)) {
    throw new EnclaveError('log_signature_invalid', `the checkpoint is not signed by the log key ${log.name}`);
  }
  const checkpoint = parseCheckpoint(opened.text);
  const origin = options.origin ?? log.name;
  if (checkpoint.origin !== origin) {
    throw new EnclaveError('log_signature_invalid', `the checkpoint's origin is not ${origin}`);
  }
  return { checkpoint, note: opened, cosigners: witnessesThatCosigned(opened.verified, witnesses) };
}
