// A witness (C2SP tlog-witness, add-checkpoint): for each log it knows (origin → verifier keys), it
// cosigns a checkpoint (C2SP tlog-cosignature, cosignature/v1) only if it is signed by the log and
// consistent with the latest checkpoint it cosigned for that origin. It therefore never cosigns two
// different trees of the same size, nor a smaller tree after a larger one: a split view needs the
// witnesses' cooperation, and they refuse.
//
// Outcomes, as tlog-witness specifies them (HTTP statuses in src/http/error-status.ts):
//   malformed body, or old size > checkpoint size      invalid_log_data       400
//   no valid signature by a key of that log            log_signature_invalid  403
//   origin not configured                              unknown_log            404
//   old size is not the latest cosigned size           log_size_conflict      409 (details.size)
//   same size as the latest (or 0, none), other root   log_rollback           409
//   consistency proof does not verify                  log_proof_invalid      422
import { EnclaveError, isEnclaveError } from '../core/errors.ts';
import { parseCheckpoint } from '../core/tlog/checkpoint.ts';
import type { Cosigner } from '../core/tlog/cosignature.ts';
import { bytesEqual, decodeUtf8, toHex } from '../core/tlog/encoding.ts';
import { EMPTY_TREE_HASH, checkTree } from '../core/tlog/merkle.ts';
import { noteVerifier, openNote, signatureLines, splitNote, type NoteVerifier } from '../core/tlog/note.ts';
import { parseAddCheckpoint } from '../core/tlog/witness-protocol.ts';
import type { WitnessStore } from './witness-store.ts';

export interface WitnessOptions {
  readonly store: WitnessStore;
  readonly cosigner: Cosigner;
  /** Log origin → the verifier keys (vkeys) its checkpoints may be signed with. */
  readonly logs: ReadonlyMap<string, readonly string[]>;
  readonly clock?: () => number;
}

/** Parses `<origin>=<vkey>` (or a bare vkey, whose key name is then the origin) into the witness's log map. */
export function parseLogOption(value: string, into: Map<string, string[]> = new Map()): Map<string, string[]> {
  // A vkey is name+id+base64: the first '=' that is followed by a well-formed vkey separates the origin.
  const eq = value.indexOf('=');
  const hasOrigin = eq > 0 && !value.slice(0, eq).includes('+');
  const origin = hasOrigin ? value.slice(0, eq) : undefined;
  const vkey = hasOrigin ? value.slice(eq + 1) : value;
  const verifier = noteVerifier(vkey);
  const key = origin ?? verifier.name;
  into.set(key, [...(into.get(key) ?? []), vkey]);
  return into;
}

function shown(origin: string): string {
  return JSON.stringify(origin.length > 100 ? `${origin.slice(0, 100)}…` : origin);
}

export class WitnessService {
  readonly cosigner: Cosigner;
  private readonly store: WitnessStore;
  private readonly logs: ReadonlyMap<string, readonly string[]>;
  private readonly clock: () => number;
  /** Parsed verifier keys (a vkey string always parses to the same verifier). */
  private readonly verifiers = new Map<string, NoteVerifier>();

  constructor(options: WitnessOptions) {
    this.store = options.store;
    this.cosigner = options.cosigner;
    this.clock = options.clock ?? Date.now;
    // Read at each request, so an operator's process can add logs without a restart; checked now.
    this.logs = options.logs;
    for (const vkeys of this.logs.values()) vkeys.forEach((v) => this.verifier(v));
  }

  private verifier(vkey: string): NoteVerifier {
    let v = this.verifiers.get(vkey);
    if (!v) {
      v = noteVerifier(vkey);
      this.verifiers.set(vkey, v);
    }
    return v;
  }

  get name(): string {
    return this.cosigner.name;
  }

  get vkey(): string {
    return this.cosigner.vkey;
  }

  /** The origins this witness cosigns for. */
  origins(): string[] {
    return [...this.logs.keys()];
  }

  /** Handles an add-checkpoint request body; resolves with the cosignature line(s) to return. */
  async addCheckpoint(body: string | Uint8Array): Promise<string> {
    const text = typeof body === 'string' ? body : decodeUtf8(body, 'add-checkpoint body');
    const req = parseAddCheckpoint(text);
    const checkpoint = parseCheckpoint(splitNote(req.checkpoint).text);
    const { origin, size, root } = checkpoint;
    const vkeys = this.logs.get(origin);
    if (vkeys === undefined) throw new EnclaveError('unknown_log', `this witness does not cosign for the log ${shown(origin)}`);
    const note = openNote(req.checkpoint, vkeys.map((v) => this.verifier(v)));
    if (req.oldSize > size) throw new EnclaveError('invalid_log_data', `the old size ${req.oldSize} is larger than the checkpoint's size ${size}`);

    const latest = await this.store.latest(origin);
    const known = latest?.size ?? 0;
    if (req.oldSize !== known) throw this.sizeConflict(origin, known, `the old size is ${req.oldSize}`);
    // Never having cosigned is having cosigned the empty tree: a first checkpoint of size 0 with another
    // root is a split view too (tlog-witness: equal sizes with different roots are 409).
    const knownRoot = latest?.root ?? EMPTY_TREE_HASH;
    try {
      if (size === known && !bytesEqual(root, knownRoot)) {
        throw new EnclaveError('log_rollback', `refused a split view of ${shown(origin)}: a checkpoint of size ${size} with another root than the one this witness cosigned`);
      }
      // Between equal sizes too: the proof must then be empty (RFC 6962 §2.1.2).
      checkTree(req.proof, size, root, known, knownRoot);
    } catch (err) {
      // The signature is the log's: keep the request as evidence of its misbehaviour (tlog-witness allows it).
      // Not the checkpoint this witness cosigned itself, with a bad proof: that is no misbehaviour of the log
      // (the proof is not signed), and anyone holding that checkpoint could fill witness.db with it.
      const replay = size === known && bytesEqual(root, knownRoot);
      if (isEnclaveError(err) && !replay) {
        // Once per signed checkpoint (the proof beside it is nobody's signature), and without the signature
        // lines no trusted key made: anyone can add those, up to the body's limit, to every copy.
        const body = `${text.slice(0, text.length - req.checkpoint.length)}${note.text}\n${note.verified.map((s) => s.line).join('')}`;
        await this.store.addEvidence({ origin, checkpoint: `${size} ${toHex(root)}`, reason: `${err.code}: ${err.message}`, body, time: this.clock() });
      }
      throw err;
    }
    const advanced = await this.store.advance(known, { origin, size, root, note: req.checkpoint, time: this.clock() });
    if (!advanced) {
      const now = (await this.store.latest(origin))?.size ?? 0;
      throw this.sizeConflict(origin, now, 'another submission was cosigned first');
    }
    return signatureLines(note.text, [this.cosigner]);
  }

  private sizeConflict(origin: string, size: number, why: string): EnclaveError {
    return new EnclaveError('log_size_conflict', `the latest checkpoint this witness cosigned for ${shown(origin)} has size ${size}; ${why}`, { details: { size } });
  }
}
