// Upgrades: pending migrations run only after a copy of the database, all of them or none; a failed
// upgrade leaves the database as it was and the daemon refuses to start with one clear line.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { openDatabase, preMigrationBackupDir } from '../../src/db';
import { runDaemonToExit, tempDir, writeTestConfig } from '../support/ward';

function migrationsDir(files: Record<string, string>): string {
  const dir = tempDir('ward-mig-');
  for (const [f, sql] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), sql);
  return dir;
}

/** Everything a reader can see: the schema and every row of every table. */
function dump(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    const objects = db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name").all() as { type: string; name: string }[];
    const rows = objects.filter((o) => o.type === 'table').map((o) => [o.name, db.prepare(`SELECT * FROM "${o.name}"`).all()]);
    return JSON.stringify({ objects, rows }, (_k, v) => (v && v.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v));
  } finally {
    db.close();
  }
}

const V1 = { '0001_a.sql': 'CREATE TABLE a (x INTEGER) STRICT;' };

t.test('a fresh database is created without a copy', async (t) => {
  const file = path.join(tempDir(), 'ward.db');
  openDatabase(file, { migrationsDir: migrationsDir(V1) }).close();
  t.notOk(fs.existsSync(preMigrationBackupDir(file)), 'no backups folder for a new database');
});

t.test('an upgrade copies the database first, then migrates', async (t) => {
  const file = path.join(tempDir(), 'ward.db');
  const db = openDatabase(file, { migrationsDir: migrationsDir(V1) });
  db.sqlite.prepare('INSERT INTO a VALUES (42)').run();
  db.close();
  const before = dump(file);
  const upgraded = openDatabase(file, { migrationsDir: migrationsDir({ ...V1, '0002_b.sql': 'CREATE TABLE b (y TEXT) STRICT;' }) });
  t.equal(upgraded.sqlite.prepare('SELECT max(version) FROM schema_migrations').pluck().get(), 2);
  upgraded.close();
  const copies = fs.readdirSync(preMigrationBackupDir(file));
  t.equal(copies.length, 1, 'one copy');
  t.match(copies[0], /^ward-schema1-before-2-\d{8}T\d{6}Z\.db$/);
  const copy = path.join(preMigrationBackupDir(file), copies[0]);
  t.equal(fs.statSync(copy).mode & 0o777, 0o600, 'the copy is 0600');
  t.equal(dump(copy), before, 'the copy is the database as it was before the upgrade');
  const again = openDatabase(file, { migrationsDir: migrationsDir({ ...V1, '0002_b.sql': 'CREATE TABLE b (y TEXT) STRICT;' }) });
  again.close();
  t.equal(fs.readdirSync(preMigrationBackupDir(file)).length, 1, 'no copy when nothing is pending');
});

t.test('a failing migration rolls back every pending one: the database is untouched', async (t) => {
  const file = path.join(tempDir(), 'ward.db');
  const db = openDatabase(file, { migrationsDir: migrationsDir(V1) });
  db.sqlite.prepare('INSERT INTO a VALUES (7)').run();
  db.close();
  const before = dump(file);
  const dir = migrationsDir({ ...V1, '0002_b.sql': 'CREATE TABLE b (y TEXT) STRICT; INSERT INTO a VALUES (8);', '0003_bad.sql': 'INSERT INTO nope VALUES (1);' });
  t.throws(() => openDatabase(file, { migrationsDir: dir }), {
    name: 'MigrationError',
    message: /^migration 3 \(bad\) failed and was rolled back: no such table: nope; no migration was applied, the database is unchanged at schema version 1 \(copy taken before the upgrade: .*ward-schema1-before-3-.*\.db\)$/,
  });
  t.equal(dump(file), before, 'migration 2 (which succeeded) was rolled back too');
});

t.test('the daemon refuses to start on a failed upgrade, with one line, and changes nothing', async (t) => {
  const { file, dir } = writeTestConfig();
  // A database the real migration 0001 cannot apply to (its first table already exists).
  const dbFile = path.join(dir, 'var', 'ward.db');
  fs.mkdirSync(path.dirname(dbFile), { recursive: true });
  const seed = new Database(dbFile);
  seed.exec("CREATE TABLE audit_events (seq INTEGER PRIMARY KEY, note TEXT); INSERT INTO audit_events VALUES (1, 'kept');");
  seed.close();
  const before = dump(dbFile);
  const r = runDaemonToExit(['--config', file]);
  t.equal(r.status, 1, 'exit status 1');
  const lines = r.stderr.trim().split('\n');
  t.equal(lines.length, 1, `one line on stderr: ${r.stderr}`);
  t.match(lines[0], /^ward: database: migration 1 \(core\) failed and was rolled back: table audit_events already exists; no migration was applied, the database is unchanged at schema version 0 \(copy taken before the upgrade: /);
  t.equal(dump(dbFile), before, 'the database is as it was');
  t.equal(fs.readdirSync(preMigrationBackupDir(dbFile)).filter((f) => f.endsWith('.db')).length, 1, 'the copy exists');
  t.notOk(fs.existsSync(path.join(dir, 'certs', 'root.crt.pem')), 'no CA was created');
});
