import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

/** A database Ward must not run against: newer schema, an edited or failed migration. */
export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** migrations/NNNN_name.sql, in order. */
export function readMigrations(dir: string): Migration[] {
  const files = fs.readdirSync(dir).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  const seen = new Set<number>();
  return files.map((f) => {
    const version = Number(f.slice(0, 4));
    if (seen.has(version)) throw new MigrationError(`migrations: two files with version ${version}`);
    seen.add(version);
    const sql = fs.readFileSync(path.join(dir, f), 'utf8');
    return { version, name: f.slice(5, -4), sql, checksum: crypto.createHash('sha256').update(sql).digest('hex') };
  });
}

/**
 * Applies pending migrations, each in its own transaction, recorded in schema_migrations.
 * Idempotent; refuses a database whose schema is newer than this code, or whose applied migrations
 * were edited since. Returns the versions applied now.
 */
export function migrate(db: Database.Database, migrations: Migration[]): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TEXT NOT NULL
  ) STRICT`);
  const applied = db.prepare('SELECT version, name, checksum FROM schema_migrations ORDER BY version').all() as {
    version: number;
    name: string;
    checksum: string;
  }[];
  const known = new Map(migrations.map((m) => [m.version, m]));
  const newest = migrations.length ? migrations[migrations.length - 1].version : 0;
  for (const a of applied) {
    if (a.version > newest) {
      throw new MigrationError(
        `database schema version ${a.version} (${a.name}) is newer than this Ward (knows up to ${newest}); run the newer Ward or restore a backup`,
      );
    }
    const m = known.get(a.version);
    if (!m) throw new MigrationError(`database has migration ${a.version} (${a.name}) that this Ward does not know`);
    if (m.checksum !== a.checksum) {
      throw new MigrationError(`migration ${a.version} (${a.name}) was changed after it was applied`);
    }
  }
  const done = new Set(applied.map((a) => a.version));
  const insert = db.prepare('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)');
  const now: number[] = [];
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    try {
      db.transaction(() => {
        db.exec(m.sql);
        insert.run(m.version, m.name, m.checksum, new Date().toISOString());
      }).immediate();
    } catch (e) {
      throw new MigrationError(`migration ${m.version} (${m.name}) failed and was rolled back: ${(e as Error).message}`);
    }
    now.push(m.version);
  }
  return now;
}
