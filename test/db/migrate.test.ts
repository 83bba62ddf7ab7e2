import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { migrate, openDatabase, readMigrations } from '../../src/db';
import { tempDir } from '../support/ward';

function migrationsDir(files: Record<string, string>): string {
  const dir = tempDir('ward-mig-');
  for (const [f, sql] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), sql);
  return dir;
}

t.test('applied in order, recorded, idempotent', async (t) => {
  const dir = migrationsDir({ '0002_b.sql': 'CREATE TABLE b (x INTEGER);', '0001_a.sql': 'CREATE TABLE a (x INTEGER);' });
  const file = path.join(tempDir(), 'w.db');
  const db = openDatabase(file, { migrationsDir: dir });
  const rows = db.sqlite.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
  t.same(rows, [{ version: 1, name: 'a' }, { version: 2, name: 'b' }]);
  t.same(migrate(db.sqlite, readMigrations(dir)), [], 'second run applies nothing');
  t.equal(db.sqlite.pragma('journal_mode', { simple: true }), 'wal');
  t.equal(db.sqlite.pragma('synchronous', { simple: true }), 2, 'synchronous=FULL');
  t.equal(db.sqlite.pragma('foreign_keys', { simple: true }), 1);
  db.close();
});

t.test('refuses a database whose schema is newer than the code', async (t) => {
  const file = path.join(tempDir(), 'w.db');
  openDatabase(file, { migrationsDir: migrationsDir({ '0001_a.sql': 'CREATE TABLE a (x);', '0002_b.sql': 'CREATE TABLE b (x);' }) }).close();
  t.throws(
    () => openDatabase(file, { migrationsDir: migrationsDir({ '0001_a.sql': 'CREATE TABLE a (x);' }) }),
    { name: 'MigrationError', message: /schema version 2 \(b\) is newer than this Ward/ },
  );
});

t.test('an edited migration is refused', async (t) => {
  const file = path.join(tempDir(), 'w.db');
  openDatabase(file, { migrationsDir: migrationsDir({ '0001_a.sql': 'CREATE TABLE a (x);' }) }).close();
  t.throws(() => openDatabase(file, { migrationsDir: migrationsDir({ '0001_a.sql': 'CREATE TABLE a (y);' }) }), /was changed after it was applied/);
});

t.test('a failing migration rolls back and leaves the database as it was', async (t) => {
  const file = path.join(tempDir(), 'w.db');
  openDatabase(file, { migrationsDir: migrationsDir({ '0001_a.sql': 'CREATE TABLE a (x);' }) }).close();
  const dir = migrationsDir({ '0001_a.sql': 'CREATE TABLE a (x);', '0002_bad.sql': 'CREATE TABLE c (x); INSERT INTO nope VALUES (1);' });
  t.throws(() => openDatabase(file, { migrationsDir: dir }), { name: 'MigrationError', message: /migration 2 \(bad\) failed and was rolled back/ });
  const db = openDatabase(file, { migrate: false });
  t.same(db.sqlite.prepare("SELECT name FROM sqlite_master WHERE name = 'c'").all(), [], 'table c was not left behind');
  t.equal(db.sqlite.prepare('SELECT max(version) FROM schema_migrations').pluck().get(), 1);
  db.close();
});

t.test('the real migrations apply cleanly and the audit log is append-only', async (t) => {
  const db = openDatabase(path.join(tempDir(), 'w.db'));
  db.sqlite.prepare("INSERT INTO audit_events (seq, time, action, actor_type, actor_id, outcome, line, leaf_hash) VALUES (1, 't', 'a.b', 'system', 'w', 'success', '{}', x'00')").run();
  t.throws(() => db.sqlite.prepare("UPDATE audit_events SET action = 'x.y'").run(), /append-only/);
  t.throws(() => db.sqlite.prepare('DELETE FROM audit_events').run(), /append-only/);
  db.close();
});
