// The parent company's legacy data centers of the demo: SQLite databases in the schema of the platform's
// old application (not the vault's), holding the synthetic global user base split between "virginia"
// and "singapore", and the mapping files that migrate them. The schema differs from the collections on
// purpose: internal integer account ids that other tables join on, lower-case country codes with stray
// spaces, other column names; the mapping bridges all of it.
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { makeDirectories } from '../../storage/private-files.ts';
import type { DemoUser, Population } from './population.ts';

export const LEGACY_SITES = ['virginia', 'singapore'] as const;
export type LegacySite = (typeof LEGACY_SITES)[number];

/** Which legacy data center held a user: the old platform sharded its users across both. */
export function legacySiteOf(index: number): LegacySite {
  return index % 2 === 0 ? 'virginia' : 'singapore';
}

const SCHEMA = `
CREATE TABLE accounts (
  id INTEGER PRIMARY KEY,
  user_uid TEXT NOT NULL UNIQUE,
  handle TEXT NOT NULL,
  email TEXT NOT NULL,
  phone TEXT,
  birthdate TEXT,
  country_code TEXT
);
CREATE TABLE devices (id TEXT PRIMARY KEY, account_id INTEGER NOT NULL REFERENCES accounts (id), model TEXT, os TEXT, ip TEXT, location TEXT);
CREATE TABLE messages (id TEXT PRIMARY KEY, sender_account INTEGER NOT NULL REFERENCES accounts (id), recipient_uid TEXT NOT NULL, body TEXT NOT NULL, sent_at TEXT NOT NULL);
CREATE TABLE watch_events (id TEXT PRIMARY KEY, account_id INTEGER NOT NULL REFERENCES accounts (id), video_ref TEXT, watched_at TEXT, seconds INTEGER);
CREATE TABLE videos (id TEXT PRIMARY KEY, owner_uid TEXT NOT NULL, title TEXT, views INTEGER, published_at TEXT);
CREATE TABLE comments (id TEXT PRIMARY KEY, author_uid TEXT NOT NULL, video_ref TEXT, body TEXT, posted_at TEXT);
`;

/** The mapping that migrates one legacy site of the demo (written next to its database). */
export function legacyMapping(site: LegacySite): string {
  return `# Migration of the parent company's "${site}" data center (enclave demo). Reference: docs/migration.md
version: 1
name: ${site}
description: the parent company's ${site} data center
source: { sqlite: ${site}.db, site: ${site} }
# Every row finds its subject through the accounts table; the country code there is lower case,
# sometimes padded, hence the expression.
subjects:
  table: accounts
  id: user_uid
  key: id
  country: { expr: "upper(trim(country_code))" }
tables:
  - table: accounts
    collection: users
    key: [user_uid]
    fields: { user_id: user_uid, username: handle, email: email, phone: phone, birthdate: birthdate }
  - table: devices
    collection: devices
    subject: { join: account_id }
    fields: { model: model, os: os, ip_address: ip, location: location }
  - table: messages
    collection: messages
    subject: { join: sender_account }
    fields: { recipient_id: recipient_uid, body: body, sent_at: sent_at }
  - table: watch_events
    collection: watch_history
    subject: { join: account_id }
    fields: { video_id: video_ref, watched_at: watched_at, seconds: seconds }
  - table: videos
    collection: videos
    subject: owner_uid
    fields: { title: title, views: views, published_at: published_at }
  - table: comments
    collection: comments
    subject: author_uid
    fields: { video_id: video_ref, text: body, posted_at: posted_at }
`;
}

class LegacyWriter {
  private readonly db: DatabaseSync;
  private readonly insert: Readonly<Record<string, StatementSync>>;

  constructor(path: string) {
    rmSync(path, { force: true });
    // In the data directory init made; one directory at a time (Node's recursive mkdir can loop for ever).
    makeDirectories(dirname(path), 0o777);
    this.db = new DatabaseSync(path);
    this.db.exec('PRAGMA journal_mode = WAL');
    this.db.exec(SCHEMA);
    const p = (sql: string) => this.db.prepare(sql);
    this.insert = {
      users: p('INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?, ?)'),
      devices: p('INSERT INTO devices VALUES (?, ?, ?, ?, ?, ?)'),
      messages: p('INSERT INTO messages VALUES (?, ?, ?, ?, ?)'),
      watch_history: p('INSERT INTO watch_events VALUES (?, ?, ?, ?, ?)'),
      videos: p('INSERT INTO videos VALUES (?, ?, ?, ?, ?)'),
      comments: p('INSERT INTO comments VALUES (?, ?, ?, ?, ?)'),
    };
    this.db.exec('BEGIN');
  }

  add(user: DemoUser): number {
    const account = user.index + 1;
    // The old platform stored country codes as users typed them.
    const country = user.index % 3 === 0 ? ` ${user.country.toLowerCase()}` : user.country.toLowerCase();
    let n = 0;
    for (const r of user.records) {
      const d = r.data;
      const v = (k: string) => d[k] ?? null;
      const s = this.insert[r.collection];
      if (!s) continue;
      n += 1;
      switch (r.collection) {
        case 'users':
          s.run(account, user.id, v('username'), v('email'), v('phone'), v('birthdate'), country);
          break;
        case 'devices':
          s.run(r.id, account, v('model'), v('os'), v('ip_address'), v('location'));
          break;
        case 'messages':
          s.run(r.id, account, v('recipient_id'), v('body'), v('sent_at'));
          break;
        case 'watch_history':
          s.run(r.id, account, v('video_id'), v('watched_at'), v('seconds'));
          break;
        case 'videos':
          s.run(r.id, user.id, v('title'), v('views'), v('published_at'));
          break;
        case 'comments':
          s.run(r.id, user.id, v('video_id'), v('text'), v('posted_at'));
          break;
      }
    }
    return n;
  }

  close(): void {
    this.db.exec('COMMIT');
    this.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    this.db.exec('PRAGMA journal_mode = DELETE');
    this.db.close();
  }
}

export interface LegacyBuild {
  readonly site: LegacySite;
  readonly path: string;
  readonly mappingPath: string;
  readonly users: number;
  readonly rows: number;
}

/** Writes both legacy databases and their mappings under `dir`; `progress` gets the users written so far. */
export function buildLegacySites(dir: string, population: Population, progress: (done: number) => void = () => {}): LegacyBuild[] {
  const writers = new Map(LEGACY_SITES.map((s) => [s, new LegacyWriter(join(dir, `${s}.db`))]));
  const users = new Map<LegacySite, number>(LEGACY_SITES.map((s) => [s, 0]));
  const rows = new Map<LegacySite, number>(LEGACY_SITES.map((s) => [s, 0]));
  try {
    for (let i = 0; i < population.size; i++) {
      const site = legacySiteOf(i);
      rows.set(site, (rows.get(site) ?? 0) + (writers.get(site)?.add(population.user(i)) ?? 0));
      users.set(site, (users.get(site) ?? 0) + 1);
      if (i % 1000 === 999) progress(i + 1);
    }
  } finally {
    for (const w of writers.values()) w.close();
  }
  progress(population.size);
  return LEGACY_SITES.map((site) => {
    const mappingPath = join(dir, `${site}.mapping.yaml`);
    writeFileSync(mappingPath, legacyMapping(site));
    return { site, path: join(dir, `${site}.db`), mappingPath, users: users.get(site) ?? 0, rows: rows.get(site) ?? 0 };
  });
}
