// The one SQLite database of the appliance: better-sqlite3 (synchronous, one connection per
// process) under drizzle-orm. Domains keep their SQL in their own store.ts and take a WardDb.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { packageRoot } from '../config';
import { readMigrations, MigrationError } from './migrate';
import { storageTrouble } from './trouble';
import { upgradeDatabase } from './upgrade';

export { MigrationError, migrate, readMigrations } from './migrate';
export { preMigrationBackupDir, upgradeDatabase } from './upgrade';
export { STORAGE_ANSWERS, storageTrouble, type StorageTrouble } from './trouble';

export interface WardDb {
  sqlite: Database.Database;
  orm: BetterSQLite3Database;
  /** Runs fn in a write transaction (BEGIN IMMEDIATE, so concurrent writers wait on busy_timeout
   * instead of failing on a stale snapshot). Nested calls join the outer transaction. After a writer
   * gave up waiting for a lock another process holds, the next ones try once without waiting until
   * one gets through: the wait blocks the event loop, so it is paid once per lock, not per request. */
  write<T>(fn: () => T): T;
  /** Counts outermost write transactions begun by this connection: a value read inside db.write stays
   * valid (nobody else can write) while `transactions` still shows the same count. */
  readonly transactions: number;
  close(): void;
}

export interface OpenOptions {
  busyTimeoutMs?: number;
  migrationsDir?: string;
  /** false: open without migrating (wardctl verbs that only read). */
  migrate?: boolean;
  readonly?: boolean;
}

export function openDatabase(file: string, opts: OpenOptions = {}): WardDb {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const sqlite = new Database(file, { readonly: opts.readonly ?? false });
  if (!opts.readonly) {
    sqlite.pragma('journal_mode = WAL');
    // FULL: a committed transaction (and its audit event) survives power loss, not only kill -9.
    sqlite.pragma('synchronous = FULL');
  }
  sqlite.pragma('foreign_keys = ON');
  // Reads go through mmap instead of a pread a page (every check-in reads a device, its
  // certificate's revocation and its command queue), so the page cache mostly holds pages written
  // since the last checkpoint. 16 MiB, not more: a B-tree balance parks a page at the pending-byte
  // page number for a moment (balance_nonroot), and the end of that write transaction then scans the
  // cache's whole page hash (pcache1TruncateUnsafe), one slot a cached page. With 64 MiB that scan
  // was 4% of the daemon's CPU under Apple command fetches at 10,000 devices; with 16 MiB it is 1%.
  sqlite.pragma('cache_size = -16384');
  sqlite.pragma('mmap_size = 268435456');
  const busyTimeoutMs = opts.busyTimeoutMs ?? 5000;
  sqlite.pragma(`busy_timeout = ${busyTimeoutMs}`);
  try {
    fs.chmodSync(file, 0o600);
  } catch {
    // read-only media: permissions are the installer's business
  }
  if (opts.migrate !== false && !opts.readonly) {
    try {
      // Copy first, then all pending migrations in one transaction (src/db/upgrade.ts).
      upgradeDatabase(sqlite, file, readMigrations(opts.migrationsDir ?? path.join(packageRoot(), 'migrations')));
    } catch (e) {
      sqlite.close();
      throw e;
    }
  }
  const orm = drizzle(sqlite);
  // Prepared BEGIN/COMMIT rather than sqlite.transaction(fn), which builds four wrapper functions on
  // every call: this runs once per request on every hot path.
  const begin = opts.readonly ? undefined : sqlite.prepare('BEGIN IMMEDIATE');
  const commit = opts.readonly ? undefined : sqlite.prepare('COMMIT');
  const rollback = opts.readonly ? undefined : sqlite.prepare('ROLLBACK');
  let waitMs = busyTimeoutMs;
  const waitForLocks = (ms: number) => {
    if (ms !== waitMs) sqlite.pragma(`busy_timeout = ${ms}`);
    waitMs = ms;
  };
  const db = {
    sqlite,
    orm,
    transactions: 0,
    write<T>(fn: () => T): T {
      if (sqlite.inTransaction) return fn();
      if (!begin) throw new Error('the database is open read-only');
      try {
        begin.run();
        db.transactions++;
        let result: T;
        try {
          result = fn();
          commit!.run();
        } catch (e) {
          // SQLite may already have rolled back on its own (SQLITE_FULL, SQLITE_IOERR).
          if (sqlite.inTransaction) rollback!.run();
          throw e;
        }
        waitForLocks(busyTimeoutMs);
        return result;
      } catch (e) {
        if (storageTrouble(e) === 'busy') waitForLocks(0);
        throw e;
      }
    },
    close: () => sqlite.close(),
  };
  return db;
}

export function isMigrationError(e: unknown): e is MigrationError {
  return e instanceof MigrationError;
}
export { GroupCommit } from './group-commit';
export type { GroupCommitOptions } from './group-commit';
export { deviceKeysOf, devicePageOf, prepareDeviceList } from './device-list';
export type { DeviceListKey, DeviceListStatements, DevicePageOptions } from './device-list';
