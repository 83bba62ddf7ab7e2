// The admin surface's records (migrations/0007_admin.sql): accounts, console sessions, API tokens and
// wipe requests. SQL lives here only; every write runs inside the caller's db.write with its audit event.
import { and, asc, desc, eq, gt, isNull, lt, lte, or, sql } from 'drizzle-orm';
import { blob, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import type { WardDb } from '../db';
import type { Role } from './roles';

export const adminUsers = sqliteTable('admin_users', {
  username: text('username').primaryKey(),
  role: text('role').$type<Role>().notNull(),
  passwordHash: text('password_hash').notNull(),
  passwordChangedAt: text('password_changed_at').notNull(),
  totpSealed: blob('totp_sealed', { mode: 'buffer' }).notNull(),
  totpLastStep: integer('totp_last_step').notNull(),
  failedLogins: integer('failed_logins').notNull(),
  lockedUntil: text('locked_until'),
  lastLoginAt: text('last_login_at'),
  disabledAt: text('disabled_at'),
  createdAt: text('created_at').notNull(),
  createdBy: text('created_by').notNull(),
});

export const adminSessions = sqliteTable('admin_sessions', {
  idHash: blob('id_hash', { mode: 'buffer' }).primaryKey(),
  username: text('username').notNull(),
  createdAt: text('created_at').notNull(),
  lastSeenAt: text('last_seen_at').notNull(),
  expiresAt: text('expires_at').notNull(),
  source: text('source'),
});

export const adminTokens = sqliteTable('admin_tokens', {
  id: text('id').primaryKey(),
  secretHash: blob('secret_hash', { mode: 'buffer' }).notNull(),
  name: text('name').notNull(),
  role: text('role').$type<Role>().notNull(),
  createdAt: text('created_at').notNull(),
  createdBy: text('created_by').notNull(),
  expiresAt: text('expires_at').notNull(),
  revokedAt: text('revoked_at'),
  revokedBy: text('revoked_by'),
  lastUsedAt: text('last_used_at'),
});

export const wipeRequests = sqliteTable('admin_wipe_requests', {
  id: text('id').primaryKey(),
  deviceId: text('device_id').notNull(),
  deviceName: text('device_name').notNull(),
  platform: text('platform').notNull(),
  mode: text('mode').$type<'full' | 'selective'>().notNull(),
  reason: text('reason').notNull(),
  requestedBy: text('requested_by').notNull(),
  requestedAt: text('requested_at').notNull(),
  expiresAt: text('expires_at').notNull(),
  status: text('status').$type<'pending' | 'queued' | 'rejected' | 'expired'>().notNull(),
  decidedBy: text('decided_by'),
  decidedAt: text('decided_at'),
  commandId: text('command_id'),
});

export type UserRecord = typeof adminUsers.$inferSelect;
export type SessionRecord = typeof adminSessions.$inferSelect;
export type TokenRecord = typeof adminTokens.$inferSelect;
export type WipeRequestRecord = typeof wipeRequests.$inferSelect;

export class AdminStore {
  private readonly userByName;
  private readonly sessionById;
  private readonly tokenById;

  constructor(private readonly db: WardDb) {
    // Prepared once: sessions and tokens are looked up on every API request (the NAC path included).
    this.userByName = db.orm.select().from(adminUsers).where(eq(adminUsers.username, sql.placeholder('username'))).prepare();
    this.sessionById = db.orm.select().from(adminSessions).where(eq(adminSessions.idHash, sql.placeholder('idHash'))).prepare();
    this.tokenById = db.orm.select().from(adminTokens).where(eq(adminTokens.id, sql.placeholder('id'))).prepare();
  }

  // ---- users

  user(username: string): UserRecord | undefined {
    return this.userByName.get({ username });
  }

  users(): UserRecord[] {
    return this.db.orm.select().from(adminUsers).orderBy(asc(adminUsers.username)).all();
  }

  insertUser(rec: UserRecord): void {
    this.db.orm.insert(adminUsers).values(rec).run();
  }

  updateUser(username: string, set: Partial<Omit<UserRecord, 'username'>>): void {
    this.db.orm.update(adminUsers).set(set).where(eq(adminUsers.username, username)).run();
  }

  /** Enabled accounts holding `role` (the last admin may not be demoted or disabled). */
  countEnabled(role: Role): number {
    const row = this.db.orm
      .select({ n: sql<number>`count(*)` })
      .from(adminUsers)
      .where(and(eq(adminUsers.role, role), isNull(adminUsers.disabledAt)))
      .get();
    return row?.n ?? 0;
  }

  // ---- sessions

  session(idHash: Buffer): SessionRecord | undefined {
    return this.sessionById.get({ idHash });
  }

  insertSession(rec: SessionRecord): void {
    this.db.orm.insert(adminSessions).values(rec).run();
  }

  touchSession(idHash: Buffer, at: string): void {
    this.db.orm.update(adminSessions).set({ lastSeenAt: at }).where(eq(adminSessions.idHash, idHash)).run();
  }

  deleteSession(idHash: Buffer): number {
    return this.db.orm.delete(adminSessions).where(eq(adminSessions.idHash, idHash)).run().changes;
  }

  /** Ends every session of a user, except `keep` (the one changing its own password). */
  deleteSessionsOf(username: string, keep?: Buffer): number {
    const cond = keep
      ? and(eq(adminSessions.username, username), sql`${adminSessions.idHash} != ${keep}`)
      : eq(adminSessions.username, username);
    return this.db.orm.delete(adminSessions).where(cond).run().changes;
  }

  /** Sessions past their absolute end or idle since before `idleBefore`. */
  deleteStaleSessions(now: string, idleBefore: string): number {
    return this.db.orm
      .delete(adminSessions)
      .where(or(lte(adminSessions.expiresAt, now), lt(adminSessions.lastSeenAt, idleBefore)))
      .run().changes;
  }

  sessionCount(): number {
    return this.db.orm.select({ n: sql<number>`count(*)` }).from(adminSessions).get()?.n ?? 0;
  }

  // ---- tokens

  token(id: string): TokenRecord | undefined {
    return this.tokenById.get({ id });
  }

  tokens(): TokenRecord[] {
    return this.db.orm.select().from(adminTokens).orderBy(desc(adminTokens.createdAt)).all();
  }

  insertToken(rec: TokenRecord): void {
    this.db.orm.insert(adminTokens).values(rec).run();
  }

  markTokenUsed(id: string, at: string): void {
    this.db.orm.update(adminTokens).set({ lastUsedAt: at }).where(eq(adminTokens.id, id)).run();
  }

  revokeToken(id: string, at: string, by: string): void {
    this.db.orm.update(adminTokens).set({ revokedAt: at, revokedBy: by }).where(eq(adminTokens.id, id)).run();
  }

  // ---- wipe requests

  wipeRequest(id: string): WipeRequestRecord | undefined {
    return this.db.orm.select().from(wipeRequests).where(eq(wipeRequests.id, id)).get();
  }

  wipeRequests(opts: { status?: WipeRequestRecord['status']; limit: number }): WipeRequestRecord[] {
    const q = this.db.orm.select().from(wipeRequests);
    const filtered = opts.status ? q.where(eq(wipeRequests.status, opts.status)) : q;
    return filtered.orderBy(desc(wipeRequests.requestedAt)).limit(opts.limit).all();
  }

  pendingWipeFor(deviceId: string, now: string): WipeRequestRecord | undefined {
    return this.db.orm
      .select()
      .from(wipeRequests)
      .where(and(eq(wipeRequests.deviceId, deviceId), eq(wipeRequests.status, 'pending'), gt(wipeRequests.expiresAt, now)))
      .get();
  }

  insertWipeRequest(rec: WipeRequestRecord): void {
    this.db.orm.insert(wipeRequests).values(rec).run();
  }

  decideWipeRequest(id: string, set: Pick<WipeRequestRecord, 'status' | 'decidedBy' | 'decidedAt' | 'commandId'>): void {
    this.db.orm.update(wipeRequests).set(set).where(and(eq(wipeRequests.id, id), eq(wipeRequests.status, 'pending'))).run();
  }

  setWipeCommand(id: string, commandId: string): void {
    this.db.orm.update(wipeRequests).set({ commandId }).where(eq(wipeRequests.id, id)).run();
  }

  /** The platform refused the wipe: the request ends, decided by Ward itself. */
  failWipeRequest(id: string, at: string): void {
    this.db.orm.update(wipeRequests).set({ status: 'rejected', decidedBy: 'system:ward', decidedAt: at }).where(eq(wipeRequests.id, id)).run();
  }

  /** Pending requests past their expiry, to be marked expired (each with its audit event). */
  overdueWipeRequests(now: string): WipeRequestRecord[] {
    return this.db.orm
      .select()
      .from(wipeRequests)
      .where(and(eq(wipeRequests.status, 'pending'), lte(wipeRequests.expiresAt, now)))
      .all();
  }
}
