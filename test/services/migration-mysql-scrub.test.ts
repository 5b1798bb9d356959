// What a MariaDB purge leaves in the server's files, read byte for byte from its data directory (the
// test's process must be able to read it; the case is skipped, saying so, where it cannot): the purged
// rows' values are gone from the tables' own tablespace files once OPTIMIZE TABLE rebuilt them, while the
// rows that stay are still there, so the scan does see what the files hold. docs/migration.md lists what
// the engine cannot guarantee (the redo and undo logs, the system tablespace, the binary log): those
// files are not scanned here, and the certificate must say so.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { verifyCertificate } from '../../src/core/deletion-certificate.ts';
import { publishedVerifierKey } from '../../src/services/migration/certificate-issuer.ts';
import { purgeMigration } from '../../src/services/migration/migration-purger.ts';
import { MigrationRunner } from '../../src/services/migration/migration-runner.ts';
import { verifyMigration } from '../../src/services/migration/migration-verifier.ts';
import { filesContaining } from '../helpers/files-at-rest.ts';
import { freshMysqlDatabase, MYSQL_URL, mysqlSkip } from '../helpers/legacy-servers.ts';
import { accountsMessagesMapping, migrationHarness } from '../helpers/migration.ts';
import mysql from 'mysql2/promise';

const USERS = 24;
const COUNTRIES = ['us', 'br', 'de', 'in'];
const moves = (i: number) => ['us', 'de'].includes(COUNTRIES[i % COUNTRIES.length] ?? '');

/** The server's data directory, or why this process cannot read it. */
async function dataDirectory(): Promise<{ dir: string } | { skip: string }> {
  const skip = await mysqlSkip();
  if (skip !== false) return { skip };
  const conn = await mysql.createConnection({ uri: MYSQL_URL });
  try {
    const [rows] = await conn.query('SELECT @@datadir AS d');
    const dir = String((rows as { d: string }[])[0]?.d ?? '');
    accessSync(dir, constants.R_OK | constants.X_OK);
    return { dir };
  } catch (err) {
    const reason = `the MariaDB data directory is not readable by this process (${(err as { code?: string }).code ?? String(err)})`;
    console.log(`# skip: ${reason}`);
    return { skip: reason };
  } finally {
    await conn.end();
  }
}

const where = await dataDirectory();

void describe('MariaDB: the purged rows leave the tables\' files', { skip: 'skip' in where ? where.skip : false }, () => {
  void it('after the purge the tablespace files hold no value of a purged row, and still hold those that stay', async () => {
    const datadir = 'dir' in where ? where.dir : '';
    const h = await migrationHarness(2, 1);
    const db = await freshMysqlDatabase('enclave_scrub');
    try {
      const tag = randomBytes(4).toString('hex');
      const email = (i: number) => `canary-${tag}-${i}@example.com`;
      const body = (i: number) => `canary body ${tag} of ${i}.`; // the full stop: "of 2" is in "of 21"
      await db.conn.query('CREATE TABLE accounts (id BIGINT PRIMARY KEY, user_uid VARCHAR(16) NOT NULL UNIQUE, handle VARCHAR(64) NOT NULL, email VARCHAR(128) NOT NULL, country_code CHAR(2)) ENGINE=InnoDB');
      await db.conn.query('CREATE TABLE messages (id INT PRIMARY KEY, sender_account BIGINT NOT NULL, recipient_uid VARCHAR(16) NOT NULL, body TEXT NOT NULL, sent_at DATETIME NOT NULL) ENGINE=InnoDB');
      for (let i = 1; i <= USERS; i++) {
        await db.conn.query('INSERT INTO accounts VALUES (?, ?, ?, ?, ?)', [i, `m${String(i).padStart(3, '0')}`, `handle${i}`, email(i), COUNTRIES[i % COUNTRIES.length]]);
        await db.conn.query('INSERT INTO messages VALUES (?, ?, ?, ?, ?)', [i, i, 'm001', body(i), '2024-03-01 12:00:00']);
      }
      const path = join(h.fx.dir, 'scrub.mapping.yaml');
      writeFileSync(
        path,
        accountsMessagesMapping('mariadb-scrub', `{ mysql: "${db.url}" }`, { hashIds: true }),
      );
      const ids = [...Array(USERS).keys()].map((k) => k + 1);
      const secret = ids.filter(moves).flatMap((i) => [email(i), body(i)]);
      const visible = ids.filter((i) => !moves(i)).flatMap((i) => [email(i), body(i)]);
      // The table's pages as InnoDB holds them, written to its files (they may still be in the buffer pool only).
      const flush = async () => {
        await db.conn.query('FLUSH TABLES accounts, messages FOR EXPORT');
        await db.conn.query('UNLOCK TABLES');
      };
      const files = join(datadir, db.database);

      const ctx = await h.open(path);
      await new MigrationRunner(ctx).run();
      assert.equal((await verifyMigration(ctx)).ok, true);
      await flush();
      for (const v of secret) assert.ok(filesContaining(files, v).length > 0, `${v} is in the table's files before the purge`);

      const report = await purgeMigration(ctx);
      assert.equal(report.tables.reduce((n, t) => n + t.purged, 0), secret.length);
      await flush();
      for (const v of secret) assert.deepEqual(filesContaining(files, v), [], `${v} is gone from every file of the database's directory`);
      for (const v of visible) assert.ok(filesContaining(files, v).length > 0, `${v}, which stays, is still in the table's files`);

      // What the engine cannot guarantee is stated in the certificate, with the settings that bear on it.
      const cert = verifyCertificate(report.certificate.note, (await publishedVerifierKey(h.fx.enclave.control.meta)) ?? '').certificate;
      assert.match(cert.method.steps.join('\n'), /OPTIMIZE TABLE accounts, messages|OPTIMIZE TABLE messages, accounts/);
      // The undo logs are in ibdata1 unless the server has undo tablespaces: the certificate says where.
      assert.match(cert.method.limits.join('\n'), /redo log \(ib_logfile\*\) and the undo logs .*system tablespace \(ibdata1\)/);
      assert.match(cert.method.settings['innodb_undo_tablespaces'] ?? '', /^\d+$/);
      assert.match(cert.method.limits.join('\n'), /innodb_file_per_table OFF/);
      assert.equal(cert.method.settings['innodb_file_per_table'], 'ON');
    } finally {
      await db.drop();
      await h.close();
    }
  });
});
