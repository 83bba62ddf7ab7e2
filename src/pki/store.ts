// The CA's records: every certificate it signed and every CRL it issued (SQL lives here only).
import { and, desc, eq, gt, isNotNull, sql } from 'drizzle-orm';
import { blob, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import type { WardDb } from '../db';

export const certificates = sqliteTable('certificates', {
  serial: text('serial').primaryKey(),
  issuer: text('issuer').notNull(),
  profile: text('profile').notNull(),
  subject: text('subject').notNull(),
  notBefore: text('not_before').notNull(),
  notAfter: text('not_after').notNull(),
  sha256: text('sha256').notNull(),
  der: blob('der', { mode: 'buffer' }).notNull(),
  issuedAt: text('issued_at').notNull(),
  requestedBy: text('requested_by').notNull(),
  revokedAt: text('revoked_at'),
  revocationReason: integer('revocation_reason'),
});

export const crls = sqliteTable('crls', {
  number: integer('number').primaryKey(),
  issuer: text('issuer').notNull(),
  thisUpdate: text('this_update').notNull(),
  nextUpdate: text('next_update').notNull(),
  der: blob('der', { mode: 'buffer' }).notNull(),
});

export type CertificateRecord = typeof certificates.$inferSelect;
export type CrlRecord = typeof crls.$inferSelect;

export class PkiStore {
  private readonly bySerial;
  private readonly latestCrlOf;
  private readonly insertCert;
  private readonly revokedAtStmt;
  private readonly revocationEpochStmt;

  constructor(private readonly db: WardDb) {
    // Issuance is on the SCEP hot path: one statement prepared once (drizzle re-prepares inserts).
    this.insertCert = db.sqlite.prepare(
      `INSERT INTO certificates (serial, issuer, profile, subject, not_before, not_after, sha256, der, issued_at, requested_by, revoked_at, revocation_reason)
       VALUES (@serial, @issuer, @profile, @subject, @notBefore, @notAfter, @sha256, @der, @issuedAt, @requestedBy, @revokedAt, @revocationReason)`,
    );
    this.revokedAtStmt = db.sqlite.prepare('SELECT revoked_at FROM certificates WHERE serial = ?').pluck();
    // By serial on every device's first contact (Apple Authenticate): plain SQL, the row mapping
    // written out (drizzle's prepared select maps each row through its own layer).
    this.bySerial = db.sqlite.prepare(`SELECT serial, issuer, profile, subject, not_before AS notBefore, not_after AS notAfter,
      sha256, der, issued_at AS issuedAt, requested_by AS requestedBy, revoked_at AS revokedAt, revocation_reason AS revocationReason
      FROM certificates WHERE serial = ?`);
    this.revocationEpochStmt = db.sqlite.prepare('SELECT coalesce(max(number), 0) FROM crls').pluck();
    // Plain SQL with LIMIT 1 written in: drizzle binds its limit as a parameter, and SQLite
    // re-prepares an ORDER BY ... LIMIT ? statement whenever that binding is set (test/db/reprepare).
    this.latestCrlOf = db.sqlite.prepare(`SELECT number, issuer, this_update AS thisUpdate, next_update AS nextUpdate, der
      FROM crls WHERE issuer = CAST(? AS TEXT) ORDER BY number DESC LIMIT 1`);
  }

  insertCertificate(rec: CertificateRecord): void {
    this.insertCert.run(rec);
  }

  certificate(serial: string): CertificateRecord | undefined {
    return this.bySerial.get(serial) as CertificateRecord | undefined;
  }

  /** Revocation time of a certificate (null: not revoked; undefined: unknown serial). Device
   * authentication re-reads it on every MDM request after a second: one column, no row mapping. */
  revokedAt(serial: string): string | null | undefined {
    return this.revokedAtStmt.get(serial) as string | null | undefined;
  }

  /** Certificates of a subject still within their validity period, newest first. */
  liveBySubject(subject: string, now: Date): CertificateRecord[] {
    return this.db.orm
      .select()
      .from(certificates)
      .where(and(eq(certificates.subject, subject), gt(certificates.notAfter, now.toISOString())))
      .orderBy(desc(certificates.issuedAt))
      .all();
  }

  list(opts: { profile?: string; limit: number; offset: number }): CertificateRecord[] {
    const q = this.db.orm.select().from(certificates);
    const filtered = opts.profile ? q.where(eq(certificates.profile, opts.profile)) : q;
    return filtered.orderBy(desc(certificates.issuedAt)).limit(opts.limit).offset(opts.offset).all();
  }

  markRevoked(serial: string, at: string, reason: number): void {
    this.db.orm.update(certificates).set({ revokedAt: at, revocationReason: reason }).where(eq(certificates.serial, serial)).run();
  }

  revokedBy(issuer: string): { serial: string; revokedAt: string; reason: number }[] {
    return this.db.orm
      .select({ serial: certificates.serial, revokedAt: certificates.revokedAt, reason: certificates.revocationReason })
      .from(certificates)
      .where(and(eq(certificates.issuer, issuer), isNotNull(certificates.revokedAt)))
      .all() as { serial: string; revokedAt: string; reason: number }[];
  }

  /** SHA-256 fingerprints of the root CA certificates on record, newest first (a backup's check). */
  rootFingerprints(): string[] {
    return this.db.orm.select({ sha256: certificates.sha256 }).from(certificates).where(eq(certificates.profile, 'rootCa'))
      .orderBy(desc(certificates.issuedAt)).all().map((r) => r.sha256);
  }

  latestCrl(issuer: string): CrlRecord | undefined {
    return this.latestCrlOf.get(issuer) as CrlRecord | undefined;
  }

  /** The newest CRL number: every revocation issues a CRL in its own transaction, so it moves with each. */
  revocationEpoch(): number {
    return this.revocationEpochStmt.get() as number;
  }

  nextCrlNumber(): number {
    const row = this.db.orm.select({ n: sql<number>`coalesce(max(${crls.number}), 0)` }).from(crls).get();
    return (row?.n ?? 0) + 1;
  }

  insertCrl(rec: CrlRecord): void {
    this.db.orm.insert(crls).values(rec).run();
  }
}
