// Forward-only upgrades of an existing database (a new Ward release with new migrations). Before the
// first pending migration touches it, a copy is taken with VACUUM INTO (a consistent snapshot through
// SQLite itself, synchronous like openDatabase; the async backup API serves `wardctl backup`). All
// pending migrations then apply inside one transaction: if any fails, every one rolls back and the
// database is exactly as the previous release left it.
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { type Migration, MigrationError, migrate } from './migrate';

export interface UpgradeResult {
  /** Versions applied now. */
  applied: number[];
  /** The copy taken before applying them (only for a database that already held data). */
  backupFile?: string;
}

/** Where pre-migration copies go: a `backups` folder next to the database file (0700). */
export function preMigrationBackupDir(dbFile: string): string {
  return path.join(path.dirname(dbFile), 'backups');
}

function appliedVersions(sqlite: Database.Database): number[] {
  const table = sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  if (!table) return [];
  return sqlite.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all() as number[];
}

function holdsData(sqlite: Database.Database): boolean {
  return sqlite.prepare("SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").pluck().get() as number > 0;
}

export function upgradeDatabase(sqlite: Database.Database, file: string, migrations: Migration[], now = new Date()): UpgradeResult {
  const applied = appliedVersions(sqlite);
  const done = new Set(applied);
  const pending = migrations.filter((m) => !done.has(m.version));
  const from = applied.length ? applied[applied.length - 1] : 0;
  let backupFile: string | undefined;
  if (pending.length > 0 && holdsData(sqlite)) {
    const dir = preMigrationBackupDir(file);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    backupFile = path.join(dir, `${path.basename(file, '.db')}-schema${from}-before-${pending[pending.length - 1].version}-${stamp}.db`);
    try {
      sqlite.prepare('VACUUM INTO ?').run(backupFile);
      fs.chmodSync(backupFile, 0o600);
    } catch (e) {
      throw new MigrationError(`cannot copy the database to ${backupFile} before upgrading (${(e as Error).message}); nothing was migrated`);
    }
  }
  sqlite.exec('BEGIN IMMEDIATE');
  try {
    const now = migrate(sqlite, migrations);
    sqlite.exec('COMMIT');
    return { applied: now, backupFile };
  } catch (e) {
    if (sqlite.inTransaction) sqlite.exec('ROLLBACK');
    if (!(e instanceof MigrationError) || pending.length === 0) throw e;
    const copy = backupFile ? ` (copy taken before the upgrade: ${backupFile})` : '';
    throw new MigrationError(`${e.message}; no migration was applied, the database is unchanged at schema version ${from}${copy}`);
  }
}
