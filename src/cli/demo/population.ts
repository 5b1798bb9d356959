// The demo's synthetic global user base: for each user a residence country and the records of the
// starter configuration's collections (users, messages, devices, watch history, public videos and
// comments). Deterministic for a seed, and each user is generated on its own (see prng.ts).
import { chance, int, pick, rngFor, weighted, type Rng } from './prng.ts';
import {
  CITIES, COMMENTS, DEVICE_MODELS, DIAL_CODES, EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES, MESSAGE_CLOSERS, MESSAGE_OPENERS,
  MESSAGE_TOPICS, OPERATING_SYSTEMS, TITLE_SUFFIXES, TITLE_WORDS_A, TITLE_WORDS_B,
} from './wordlists.ts';

/** Residence countries and their weights: the US, EU member states, and elsewhere (no jurisdiction). */
export const COUNTRY_WEIGHTS: readonly (readonly [string, number])[] = [
  ['US', 40], ['PR', 1],
  ['DE', 7], ['FR', 6], ['ES', 4], ['IT', 4], ['NL', 3], ['PL', 2], ['SE', 2], ['IE', 1], ['AT', 1],
  ['BR', 8], ['IN', 8], ['JP', 5], ['SG', 3], ['GB', 3], ['CA', 2],
];

export type DemoValue = string | number;

export interface DemoRecord {
  readonly collection: string;
  readonly id: string;
  readonly data: Readonly<Record<string, DemoValue>>;
}

export interface DemoUser {
  readonly index: number;
  readonly id: string;
  readonly country: string;
  readonly records: readonly DemoRecord[];
}

const STREAM_COUNTRY = 1;
const STREAM_VIDEOS = 2;
const STREAM_PROFILE = 3;

const START = Date.UTC(2023, 0, 1);
const SPAN = Date.UTC(2025, 6, 1) - START;
const IP_PREFIXES = ['192.0.2', '198.51.100', '203.0.113'] as const;

function timestamp(rng: Rng): string {
  return new Date(START + Math.floor(rng() * SPAN)).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function birthdate(rng: Rng): string {
  const y = int(rng, 1950, 2008);
  const m = int(rng, 1, 12);
  const d = int(rng, 1, 28);
  return `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

export class Population {
  readonly seed: number;
  readonly size: number;
  private readonly width: number;

  constructor(seed: number, size: number) {
    if (!Number.isSafeInteger(size) || size < 1) throw new RangeError('a population has at least one user');
    this.seed = seed >>> 0;
    this.size = size;
    this.width = Math.max(5, String(size).length);
  }

  userId(index: number): string {
    return `u${String(index + 1).padStart(this.width, '0')}`;
  }

  countryOf(index: number): string {
    return weighted(rngFor(this.seed, index, STREAM_COUNTRY), COUNTRY_WEIGHTS);
  }

  /** How many public videos a user has uploaded (0–2); other users' watch history and comments refer to them. */
  videoCount(index: number): number {
    const r = rngFor(this.seed, index, STREAM_VIDEOS)();
    return r < 0.6 ? 0 : r < 0.9 ? 1 : 2;
  }

  private someVideo(rng: Rng): string {
    for (let attempt = 0; attempt < 8; attempt++) {
      const j = int(rng, 0, this.size - 1);
      const n = this.videoCount(j);
      if (n > 0) return `${this.userId(j)}-v${int(rng, 1, n)}`;
    }
    return 'v-removed';
  }

  user(index: number): DemoUser {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) throw new RangeError(`no user ${index}`);
    const rng = rngFor(this.seed, index, STREAM_PROFILE);
    const id = this.userId(index);
    const country = this.countryOf(index);
    const first = pick(rng, FIRST_NAMES);
    const last = pick(rng, LAST_NAMES);
    const records: DemoRecord[] = [];

    const profile: Record<string, DemoValue> = {
      user_id: id,
      username: `${first}_${last}${int(rng, 1, 99)}`,
      email: `${first}.${last}${int(rng, 1, 999)}@${pick(rng, EMAIL_DOMAINS)}`,
    };
    if (chance(rng, 0.75)) profile.phone = `+${DIAL_CODES[country] ?? '999'} 555 01${String(int(rng, 0, 99)).padStart(2, '0')}`;
    if (chance(rng, 0.6)) profile.birthdate = birthdate(rng);
    records.push({ collection: 'users', id, data: profile });

    const devices = int(rng, 1, 2);
    for (let k = 1; k <= devices; k++) {
      const data: Record<string, DemoValue> = {
        user_id: id,
        model: pick(rng, DEVICE_MODELS),
        os: pick(rng, OPERATING_SYSTEMS),
        ip_address: `${pick(rng, IP_PREFIXES)}.${int(rng, 1, 254)}`,
      };
      if (chance(rng, 0.7)) data.location = `${pick(rng, CITIES[country] ?? ['Unknown'])}, ${country}`;
      records.push({ collection: 'devices', id: `${id}-d${k}`, data });
    }

    const messages = this.size > 1 ? int(rng, 0, 4) : 0;
    for (let k = 1; k <= messages; k++) {
      let to = int(rng, 0, this.size - 2);
      if (to >= index) to += 1;
      records.push({
        collection: 'messages',
        id: `${id}-m${k}`,
        data: {
          sender_id: id,
          recipient_id: this.userId(to),
          body: `${pick(rng, MESSAGE_OPENERS)} ${pick(rng, MESSAGE_TOPICS)}${pick(rng, MESSAGE_CLOSERS)}`,
          sent_at: timestamp(rng),
        },
      });
    }

    const watched = int(rng, 1, 6);
    for (let k = 1; k <= watched; k++) {
      records.push({
        collection: 'watch_history',
        id: `${id}-w${k}`,
        data: { user_id: id, video_id: this.someVideo(rng), watched_at: timestamp(rng), seconds: int(rng, 5, 3600) },
      });
    }

    const videos = this.videoCount(index);
    for (let k = 1; k <= videos; k++) {
      records.push({
        collection: 'videos',
        id: `${id}-v${k}`,
        data: {
          owner_id: id,
          title: `${pick(rng, TITLE_WORDS_A)} ${pick(rng, TITLE_WORDS_B)}${pick(rng, TITLE_SUFFIXES)}`,
          views: Math.floor(10 ** (rng() * 6)),
          published_at: timestamp(rng),
        },
      });
    }

    const comments = int(rng, 0, 3);
    for (let k = 1; k <= comments; k++) {
      records.push({
        collection: 'comments',
        id: `${id}-c${k}`,
        data: { author_id: id, video_id: this.someVideo(rng), text: pick(rng, COMMENTS), posted_at: timestamp(rng) },
      });
    }
    return { index, id, country, records };
  }
}
