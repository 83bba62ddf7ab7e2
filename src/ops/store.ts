// SQL of appliance operations: facts about the database file itself that backups and restores need
// (schema version, integrity, whether a daemon has it open). The audit log's and the CA's facts come
// from their own stores (AuditStore, PkiStore).
import Database from 'better-sqlite3';
import type { WardDb } from '../db';

export class OpsStore {
  private readonly q;

  constructor(readonly sqlite: Database.Database) {
    const p = (sql: string) => sqlite.prepare(sql);
    this.q = {
      schemaVersion: p('SELECT max(version) FROM schema_migrations').pluck(),
    };
  }

  static of(db: WardDb): OpsStore {
    return new OpsStore(db.sqlite);
  }

  /**
   * Whether another process has the database open (a running daemon keeps a WAL read lock): an
   * exclusive lock, asked for without waiting, is refused then.
   */
  static inUse(file: string): boolean {
    const db = new Database(file, { fileMustExist: true });
    try {
      db.pragma('busy_timeout = 0');
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('BEGIN EXCLUSIVE');
      db.exec('COMMIT');
      return false;
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_BUSY') return true;
      throw e;
    } finally {
      db.close();
    }
  }

  schemaVersion(): number {
    return (this.q.schemaVersion.get() as number | null) ?? 0;
  }

  integrityCheck(): string {
    return (this.sqlite.pragma('integrity_check', { simple: true }) as string) ?? 'no answer';
  }
}
