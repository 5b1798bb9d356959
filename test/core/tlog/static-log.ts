// A complete C2SP tlog-tiles log built in memory from the core functions alone: entries, tiles, entry
// bundles and signed checkpoints as a map from path to bytes. Tests tamper with the map and check that
// the verifier notices; they also serve it over HTTP to the CLI and feed its checkpoints to witnesses.
import {
  changedTiles,
  encodeEntryBundle,
  encodeTile,
  entriesPath,
  formatCheckpoint,
  frontierRoot,
  generateNoteKey,
  noteSigner,
  signNote,
  tileHashIndexes,
  tilePath,
  type NoteSigner,
} from '../../../src/core/tlog/index.ts';
import { MemoryTree, entry } from './fixtures.ts';

export class StaticLog {
  readonly origin: string;
  readonly skey: string;
  readonly signer: NoteSigner & { readonly vkey: string };
  readonly tree = new MemoryTree();
  readonly resources = new Map<string, Uint8Array>();
  /** Every checkpoint published, oldest first. */
  readonly checkpoints: string[] = [];
  private publishedSize = 0;

  constructor(origin = 'log.example/enclave', skey?: string) {
    this.origin = origin;
    this.skey = skey ?? generateNoteKey(origin).skey;
    this.signer = noteSigner(this.skey);
  }

  get vkey(): string {
    return this.signer.vkey;
  }

  /** Appends entries `{"i":n}` for the next `count` indexes (or the given entries). */
  append(countOrEntries: number | readonly Uint8Array[]): this {
    const entries = typeof countOrEntries === 'number' ? Array.from({ length: countOrEntries }, (_, i) => entry(this.tree.size + i)) : countOrEntries;
    this.tree.appendEntries(entries);
    return this;
  }

  /** Writes the tiles and bundles the new size needs and a checkpoint signed by the log (and `cosign(text)` lines). */
  async publish(cosign?: (text: string) => string): Promise<string> {
    const size = this.tree.size;
    for (const t of changedTiles(this.publishedSize, size)) {
      this.resources.set(tilePath(t.level, t.index, t.width), encodeTile(await this.tree.readHashes(tileHashIndexes(t))));
      if (t.level === 0) {
        const first = t.index * 256;
        this.resources.set(entriesPath(t.index, t.width), encodeEntryBundle(this.tree.entries.slice(first, first + t.width)));
      }
    }
    const text = formatCheckpoint({ origin: this.origin, size, root: frontierRoot(this.tree.frontier), extensions: [] });
    const note = signNote(text, [this.signer]) + (cosign ? cosign(text) : '');
    this.resources.set('checkpoint', new TextEncoder().encode(note));
    this.checkpoints.push(note);
    this.publishedSize = size;
    return note;
  }

  readonly fetch = (path: string): Promise<Uint8Array | undefined> => Promise.resolve(this.resources.get(path));
}
