// SQL of appliance operations: read-only facts about the database that the clock check, backups
// and restores need (newest audit time, schema version, audit size, the root CA on record).
import Database from 'better-sqlite3';
import type { WardDb } from '../db';

export interface AuditFacts {
  events: number;
  lastSeq: number;
  lastLeafHash: string | null;
}

export class OpsStore {
  private readonly q;

  constructor(readonly sqlite: Database.Database) {
    const p = (sql: string) => sqlite.prepare(sql);
    this.q = {
      // max(time), not the last seq: after the clock jumped back, later events carry earlier times.
      newestAuditTime: p('SELECT max(time) FROM audit_events').pluck(),
      auditCount: p('SELECT count(*) FROM audit_events').pluck(),
      lastEvent: p('SELECT seq, hex(leaf_hash) AS leafHash FROM audit_events ORDER BY seq DESC LIMIT 1'),
      schemaVersion: p('SELECT max(version) FROM schema_migrations').pluck(),
      rootCaSha256: p("SELECT sha256 FROM certificates WHERE profile = 'rootCa' ORDER BY issued_at DESC").pluck(),
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

  /** Time of the newest audit event (ISO 8601), or undefined for an empty log. */
  newestAuditTime(): string | undefined {
    return (this.q.newestAuditTime.get() as string | null) ?? undefined;
  }

  auditFacts(): AuditFacts {
    const last = this.q.lastEvent.get() as { seq: number; leafHash: string } | undefined;
    return { events: this.q.auditCount.get() as number, lastSeq: last?.seq ?? 0, lastLeafHash: last ? last.leafHash.toLowerCase() : null };
  }

  schemaVersion(): number {
    return (this.q.schemaVersion.get() as number | null) ?? 0;
  }

  /** SHA-256 fingerprints of the root CA certificates recorded in this database. */
  rootCaFingerprints(): string[] {
    return this.q.rootCaSha256.all() as string[];
  }

  integrityCheck(): string {
    return (this.sqlite.pragma('integrity_check', { simple: true }) as string) ?? 'no answer';
  }
}
