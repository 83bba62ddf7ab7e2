// Console sessions. The cookie carries 32 random bytes; the database keeps only their SHA-256, so a
// copy of the database cannot be replayed as a cookie. The CSRF token is derived from the cookie
// value (HMAC), a synchronizer token the server can recompute on every request without storing it
// (OWASP CSRF cheat sheet, "synchronizer token pattern").
import crypto from 'node:crypto';
import { type AuditContext, type AuditLog, SYSTEM_ACTOR } from '../audit';
import type { WardDb } from '../db';
import type { AdminStore, SessionRecord, UserRecord } from './store';

/** `__Host-`: the browser only accepts it Secure, host-only, Path=/ (RFC 6265bis section 4.1.3.2). */
export const SESSION_COOKIE = '__Host-ward_session';

const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;
/** Sessions are touched at most this often (an activity timestamp, not a record worth a write a request). */
const TOUCH_EVERY_MS = 10_000;

export interface SessionTimes {
  idleMinutes: number;
  maxHours: number;
}

export interface StartedSession {
  cookie: string;
  csrfToken: string;
  /** Short public id (a prefix of the hash) for audit events and the session list. */
  id: string;
  expiresAt: string;
}

export type ResolvedSession =
  | { status: 'active'; session: SessionRecord; user: UserRecord; csrfToken: string; id: string }
  | { status: 'expired'; why: 'idle' | 'max' }
  | { status: 'none' };

const hashOf = (cookie: string) => crypto.createHash('sha256').update(cookie).digest();
export const sessionIdOf = (idHash: Buffer) => idHash.subarray(0, 8).toString('hex');

export function csrfTokenOf(cookie: string): string {
  return crypto.createHmac('sha256', cookie).update('ward-csrf-v1').digest('base64url');
}

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

export class AdminSessions {
  constructor(
    private readonly db: WardDb,
    private readonly store: AdminStore,
    private readonly audit: AuditLog,
    readonly times: SessionTimes,
  ) {}

  /** Inserts the session row; the caller records the sign-in event in the same transaction. */
  create(user: UserRecord, ctx: AuditContext, now = new Date()): StartedSession {
    const cookie = crypto.randomBytes(32).toString('base64url');
    const idHash = hashOf(cookie);
    const expiresAt = new Date(now.getTime() + this.times.maxHours * 3_600_000).toISOString();
    this.store.insertSession({
      idHash, username: user.username, createdAt: now.toISOString(), lastSeenAt: now.toISOString(), expiresAt, source: ctx.source ?? null,
    });
    return { cookie, csrfToken: csrfTokenOf(cookie), id: sessionIdOf(idHash), expiresAt };
  }

  /** The session a cookie names, ending it (with an audit event) when it has run out. */
  resolve(cookie: string | undefined, ctx: AuditContext, now = new Date()): ResolvedSession {
    if (!cookie || !COOKIE_VALUE.test(cookie)) return { status: 'none' };
    const idHash = hashOf(cookie);
    const session = this.store.session(idHash);
    if (!session) return { status: 'none' };
    const idleEnd = Date.parse(session.lastSeenAt) + this.times.idleMinutes * 60_000;
    const why = now.toISOString() >= session.expiresAt ? 'max' : now.getTime() >= idleEnd ? 'idle' : undefined;
    const user = this.store.user(session.username);
    if (why || !user || user.disabledAt) {
      this.db.write(() => {
        if (this.store.deleteSession(idHash) === 0) return;
        this.audit.record({
          ...ctx,
          actor: { type: 'admin', id: session.username },
          action: 'admin.session.ended',
          target: { type: 'session', id: sessionIdOf(idHash) },
          details: { why: why === 'max' ? 'maximum session length reached' : why === 'idle' ? `idle for ${this.times.idleMinutes} minutes` : 'account disabled' },
        });
      });
      return why ? { status: 'expired', why } : { status: 'none' };
    }
    if (now.getTime() - Date.parse(session.lastSeenAt) >= TOUCH_EVERY_MS) this.store.touchSession(idHash, now.toISOString());
    return { status: 'active', session, user, csrfToken: csrfTokenOf(cookie), id: sessionIdOf(idHash) };
  }

  /** Sign-out. */
  end(cookie: string, ctx: AuditContext): void {
    const idHash = hashOf(cookie);
    this.db.write(() => {
      const s = this.store.session(idHash);
      if (!s || this.store.deleteSession(idHash) === 0) return;
      this.audit.record({ ...ctx, action: 'admin.logout', target: { type: 'session', id: sessionIdOf(idHash) } });
    });
  }

  /** Hourly: removes sessions that ran out without another request (one event for the batch). */
  purge(now = new Date()): number {
    const idleBefore = new Date(now.getTime() - this.times.idleMinutes * 60_000).toISOString();
    return this.db.write(() => {
      const n = this.store.deleteStaleSessions(now.toISOString(), idleBefore);
      if (n > 0) this.audit.record({ actor: SYSTEM_ACTOR, action: 'admin.sessions.purged', details: { count: n } });
      return n;
    });
  }

  static hashOf(cookie: string): Buffer {
    return hashOf(cookie);
  }
}
