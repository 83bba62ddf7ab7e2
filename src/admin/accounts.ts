// Local accounts: scrypt password + TOTP second factor (HIPAA 45 CFR 164.312(d), person or entity
// authentication), lockout after repeated failures, and the account changes an admin (or wardctl)
// makes. Each change and each sign-in attempt is an audit event in the transaction that makes it.
import { type AuditContext, type AuditLog, SYSTEM_ACTOR } from '../audit';
import type { WardDb } from '../db';
import { AdminError } from './errors';
import { type ScryptParams, decoyHash, hashPassword, needsRehash, parseHash, passwordProblem, verifyPassword } from './password';
import { type Role, isRole } from './roles';
import type { SecretSeal } from './sealing';
import { type AdminSessions, type StartedSession } from './sessions';
import type { AdminStore, UserRecord } from './store';
import { newTotpSecret, otpauthUri, verifyTotp } from './totp';

export const USERNAME = /^[a-z][a-z0-9._-]{1,63}$/;

export interface AccountPolicy {
  password: { minLength: number; scryptCost: number };
  lockout: { maxFailures: number; minutes: number };
  totpIssuer: string;
}

/** What the API and wardctl show of an account (never a hash or a secret). */
export interface UserView {
  username: string;
  role: Role;
  createdAt: string;
  createdBy: string;
  lastLoginAt: string | null;
  passwordChangedAt: string;
  failedLogins: number;
  lockedUntil: string | null;
  disabled: boolean;
}

export interface NewTotp {
  /** otpauth:// URI: shown once, to be scanned into an authenticator app. */
  otpauthUri: string;
}

export type SignInResult =
  | { ok: true; user: UserRecord; session: StartedSession }
  | { ok: false; why: 'unknown user' | 'account disabled' | 'account locked' | 'wrong password' | 'malformed code' | 'wrong code' | 'code reused' };

export function userView(u: UserRecord, now = new Date()): UserView {
  return {
    username: u.username,
    role: u.role,
    createdAt: u.createdAt,
    createdBy: u.createdBy,
    lastLoginAt: u.lastLoginAt,
    passwordChangedAt: u.passwordChangedAt,
    failedLogins: u.failedLogins,
    lockedUntil: u.lockedUntil && u.lockedUntil > now.toISOString() ? u.lockedUntil : null,
    disabled: u.disabledAt !== null,
  };
}

const actorName = (ctx: AuditContext) => `${ctx.actor.type}:${ctx.actor.id}`;

export class AdminAccounts {
  private decoy?: Promise<string>;

  constructor(
    private readonly db: WardDb,
    private readonly store: AdminStore,
    private readonly audit: AuditLog,
    private readonly seal: SecretSeal,
    private readonly policy: AccountPolicy,
    private readonly sessions?: AdminSessions,
  ) {}

  private get scrypt(): ScryptParams {
    return { ln: this.policy.password.scryptCost, r: 8, p: 1 };
  }

  static normalizeUsername(name: string): string {
    return name.trim().toLowerCase();
  }

  private need(username: string): UserRecord {
    const u = this.store.user(AdminAccounts.normalizeUsername(username));
    if (!u) throw new AdminError('not_found', 'no_such_user', `no user ${JSON.stringify(username.slice(0, 64))}`);
    return u;
  }

  private checkPassword(password: string, username: string): void {
    const problem = passwordProblem(password, this.policy.password.minLength, username);
    if (problem) throw new AdminError('invalid', 'weak_password', problem);
  }

  private totpFor(username: string): { sealed: Buffer; uri: string } {
    const secret = newTotpSecret();
    return { sealed: this.seal.seal(secret, username), uri: otpauthUri(secret, username, this.policy.totpIssuer) };
  }

  list(): UserView[] {
    const now = new Date();
    return this.store.users().map((u) => userView(u, now));
  }

  get(username: string): UserView {
    return userView(this.need(username));
  }

  /** A new account with a password and a fresh TOTP secret (returned once as an otpauth URI). */
  async create(input: { username: string; role: Role; password: string }, ctx: AuditContext): Promise<{ user: UserView } & NewTotp> {
    const username = AdminAccounts.normalizeUsername(input.username);
    if (!USERNAME.test(username)) {
      throw new AdminError('invalid', 'bad_username', 'user names are 2-64 characters: a letter, then letters, digits, dot, dash or underscore');
    }
    if (!isRole(input.role)) throw new AdminError('invalid', 'bad_role', `role must be admin, operator, auditor or nac`);
    this.checkPassword(input.password, username);
    const passwordHash = await hashPassword(input.password, this.scrypt);
    const totp = this.totpFor(username);
    const now = new Date().toISOString();
    const rec: UserRecord = {
      username, role: input.role, passwordHash, passwordChangedAt: now, totpSealed: totp.sealed, totpLastStep: 0,
      failedLogins: 0, lockedUntil: null, lastLoginAt: null, disabledAt: null, createdAt: now, createdBy: actorName(ctx),
    };
    this.db.write(() => {
      if (this.store.user(username)) throw new AdminError('conflict', 'user_exists', `user ${username} already exists`);
      this.store.insertUser(rec);
      this.audit.record({
        ...ctx, action: 'admin.user.created', target: { type: 'user', id: username },
        details: { role: input.role, scrypt: this.scryptText() },
      });
    });
    return { user: userView(rec), otpauthUri: totp.uri };
  }

  private scryptText(): string {
    return `ln=${this.scrypt.ln},r=8,p=1`;
  }

  /** Sets a new password (admin reset or wardctl); ends the user's sessions except `keepSession`. */
  async setPassword(username: string, password: string, ctx: AuditContext, opts: { keepSession?: Buffer; self?: boolean } = {}): Promise<void> {
    const user = this.need(username);
    this.checkPassword(password, user.username);
    const passwordHash = await hashPassword(password, this.scrypt);
    this.db.write(() => {
      this.need(user.username);
      const now = new Date().toISOString();
      this.store.updateUser(user.username, { passwordHash, passwordChangedAt: now, failedLogins: 0, lockedUntil: null });
      const ended = this.store.deleteSessionsOf(user.username, opts.keepSession);
      this.audit.record({
        ...ctx, action: 'admin.user.password_changed', target: { type: 'user', id: user.username },
        details: { by: opts.self ? 'self' : 'administrator', sessionsEnded: ended, scrypt: this.scryptText() },
      });
    });
  }

  /** Changes one's own password: the current one must be given (a stolen session alone cannot). */
  async changeOwnPassword(username: string, current: string, next: string, ctx: AuditContext, keepSession?: Buffer): Promise<void> {
    const user = this.need(username);
    if (!(await verifyPassword(current, user.passwordHash))) {
      this.audit.record({
        ...ctx, action: 'admin.user.password_changed', outcome: 'failure', reason: 'current password wrong',
        target: { type: 'user', id: user.username },
      });
      throw new AdminError('forbidden', 'wrong_password', 'the current password is wrong');
    }
    await this.setPassword(username, next, ctx, { keepSession, self: true });
  }

  /** Replaces the TOTP secret (lost phone): returned once; the user's sessions end. */
  resetTotp(username: string, ctx: AuditContext): NewTotp {
    const user = this.need(username);
    const totp = this.totpFor(user.username);
    this.db.write(() => {
      this.store.updateUser(user.username, { totpSealed: totp.sealed, totpLastStep: 0 });
      const ended = this.store.deleteSessionsOf(user.username);
      this.audit.record({ ...ctx, action: 'admin.user.totp_reset', target: { type: 'user', id: user.username }, details: { sessionsEnded: ended } });
    });
    return { otpauthUri: totp.uri };
  }

  setRole(username: string, role: Role, ctx: AuditContext): UserView {
    if (!isRole(role)) throw new AdminError('invalid', 'bad_role', 'role must be admin, operator, auditor or nac');
    return this.db.write(() => {
      const user = this.need(username);
      if (user.role === role) return userView(user);
      if (user.role === 'admin' && !user.disabledAt && this.store.countEnabled('admin') <= 1) {
        throw new AdminError('conflict', 'last_admin', `${user.username} is the last enabled admin`);
      }
      this.store.updateUser(user.username, { role });
      const ended = this.store.deleteSessionsOf(user.username);
      this.audit.record({
        ...ctx, action: 'admin.user.role_changed', target: { type: 'user', id: user.username },
        details: { from: user.role, to: role, sessionsEnded: ended },
      });
      return userView({ ...user, role });
    });
  }

  setDisabled(username: string, disabled: boolean, ctx: AuditContext): UserView {
    return this.db.write(() => {
      const user = this.need(username);
      if ((user.disabledAt !== null) === disabled) return userView(user);
      if (disabled && user.role === 'admin' && this.store.countEnabled('admin') <= 1) {
        throw new AdminError('conflict', 'last_admin', `${user.username} is the last enabled admin`);
      }
      const disabledAt = disabled ? new Date().toISOString() : null;
      this.store.updateUser(user.username, { disabledAt, failedLogins: 0, lockedUntil: null });
      const ended = disabled ? this.store.deleteSessionsOf(user.username) : 0;
      this.audit.record({
        ...ctx, action: disabled ? 'admin.user.disabled' : 'admin.user.enabled', target: { type: 'user', id: user.username },
        details: { sessionsEnded: ended },
      });
      return userView({ ...user, disabledAt, failedLogins: 0, lockedUntil: null });
    });
  }

  unlock(username: string, ctx: AuditContext): UserView {
    return this.db.write(() => {
      const user = this.need(username);
      this.store.updateUser(user.username, { failedLogins: 0, lockedUntil: null });
      this.audit.record({
        ...ctx, action: 'admin.user.unlocked', target: { type: 'user', id: user.username },
        details: { failedLogins: user.failedLogins, wasLockedUntil: user.lockedUntil },
      });
      return userView({ ...user, failedLogins: 0, lockedUntil: null });
    });
  }

  /**
   * Password + TOTP code. Every attempt is an audit event; consecutive failures lock the account.
   * The answer to the client is the same for every failure (no user-name probing); the event says why.
   */
  async signIn(input: { username: string; password: string; code: string }, ctx: AuditContext): Promise<SignInResult> {
    const username = AdminAccounts.normalizeUsername(input.username);
    const found = USERNAME.test(username) ? this.store.user(username) : undefined;
    const now = new Date();
    const lockedNow = !!found?.lockedUntil && found.lockedUntil > now.toISOString();
    if (!found || found.disabledAt || lockedNow) {
      // As slow as a real check, so the answer time does not tell which names exist.
      await verifyPassword(input.password, await (this.decoy ??= decoyHash(this.scrypt)));
      const why = !found ? 'unknown user' : found.disabledAt ? 'account disabled' : 'account locked';
      this.audit.record({
        ...ctx,
        // An unknown name is not recorded: people type their password into the name field.
        actor: { type: 'admin', id: found ? found.username : 'unknown' },
        action: 'admin.login.failed', outcome: 'failure', reason: why,
        target: found ? { type: 'user', id: found.username } : null,
        details: found?.lockedUntil && lockedNow ? { lockedUntil: found.lockedUntil } : {},
      });
      return { ok: false, why };
    }
    const passwordOk = await verifyPassword(input.password, found.passwordHash);
    const result = this.db.write((): SignInResult => {
      // Re-read inside the transaction: concurrent attempts count and consume codes one at a time.
      const user = this.store.user(username)!;
      const actorCtx: AuditContext = { ...ctx, actor: { type: 'admin', id: user.username } };
      let why: Exclude<SignInResult, { ok: true }>['why'] | undefined;
      let step = 0;
      if (!passwordOk) why = 'wrong password';
      else {
        const check = verifyTotp(this.seal.open(user.totpSealed, user.username), input.code, user.totpLastStep);
        if (check.ok) step = check.step;
        else why = check.reason === 'malformed' ? 'malformed code' : check.reason === 'reused' ? 'code reused' : 'wrong code';
      }
      if (why) {
        const failures = user.failedLogins + 1;
        const lock = failures >= this.policy.lockout.maxFailures;
        const lockedUntil = lock ? new Date(Date.now() + this.policy.lockout.minutes * 60_000).toISOString() : null;
        this.store.updateUser(user.username, { failedLogins: lock ? 0 : failures, lockedUntil });
        this.audit.record({
          ...actorCtx, action: 'admin.login.failed', outcome: 'failure', reason: why,
          target: { type: 'user', id: user.username }, details: { consecutiveFailures: failures },
        });
        if (lock) {
          this.audit.record({
            ...ctx, actor: SYSTEM_ACTOR, action: 'admin.user.locked', target: { type: 'user', id: user.username },
            details: { failures, lockedUntil, minutes: this.policy.lockout.minutes },
          });
        }
        return { ok: false, why };
      }
      const at = new Date().toISOString();
      this.store.updateUser(user.username, { failedLogins: 0, lockedUntil: null, lastLoginAt: at, totpLastStep: step });
      const session = this.sessions!.create(user, actorCtx);
      this.audit.record({
        ...actorCtx, action: 'admin.login.succeeded', target: { type: 'user', id: user.username },
        details: { role: user.role, session: session.id, sessionExpiresAt: session.expiresAt },
      });
      return { ok: true, user: { ...user, lastLoginAt: at, totpLastStep: step }, session };
    });
    if (result.ok && needsRehash(result.user.passwordHash, this.scrypt)) await this.rehash(result.user, input.password, ctx);
    return result;
  }

  /** The configured scrypt cost changed since this hash was made: upgrade it now that we know the password. */
  private async rehash(user: UserRecord, password: string, ctx: AuditContext): Promise<void> {
    const before = parseHash(user.passwordHash);
    const passwordHash = await hashPassword(password, this.scrypt);
    this.db.write(() => {
      this.store.updateUser(user.username, { passwordHash });
      this.audit.record({
        ...ctx, actor: SYSTEM_ACTOR, action: 'admin.user.password_rehashed', target: { type: 'user', id: user.username },
        details: { from: before ? `ln=${before.ln},r=${before.r},p=${before.p}` : 'unreadable', to: this.scryptText() },
      });
    });
  }
}
