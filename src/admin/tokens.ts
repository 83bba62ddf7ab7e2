// API tokens for scripts: `Authorization: Bearer ward_<id>_<secret>` (RFC 6750 section 2.1). The
// secret is 256 random bits, shown once; the database keeps its SHA-256 (a fast hash is enough for a
// secret with that much entropy, and the NAC look-up path cannot afford scrypt). Each token has a
// role and an expiry and can be revoked; each use is an audit event.
import crypto from 'node:crypto';
import type { AuditContext, AuditLog } from '../audit';
import type { WardDb } from '../db';
import { AdminError } from './errors';
import { type Role, isRole } from './roles';
import { sameSecret } from './sessions';
import type { AdminStore, TokenRecord } from './store';

const TOKEN = /^ward_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
export const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._:@()-]{0,63}$/;

export interface TokenView {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
  createdBy: string;
  expiresAt: string;
  revokedAt: string | null;
  revokedBy: string | null;
  lastUsedAt: string | null;
  status: 'active' | 'expired' | 'revoked';
}

export type TokenCheck = { ok: true; token: TokenRecord } | { ok: false; why: 'malformed' | 'unknown' | 'wrong secret' | 'expired' | 'revoked'; id?: string };

export function tokenView(t: TokenRecord, now = new Date()): TokenView {
  const status = t.revokedAt ? 'revoked' : t.expiresAt <= now.toISOString() ? 'expired' : 'active';
  const { secretHash: _h, ...rest } = t;
  return { ...rest, status };
}

const digest = (secret: string) => crypto.createHash('sha256').update(secret).digest();

export class ApiTokens {
  constructor(
    private readonly db: WardDb,
    private readonly store: AdminStore,
    private readonly audit: AuditLog,
    private readonly limits: { defaultDays: number; maxDays: number },
  ) {}

  list(): TokenView[] {
    const now = new Date();
    return this.store.tokens().map((t) => tokenView(t, now));
  }

  /** Creates a token; the returned `token` string is the only time the secret exists outside the caller. */
  create(input: { name: string; role: Role; days?: number }, ctx: AuditContext): { token: string } & TokenView {
    const name = input.name.trim();
    if (!TOKEN_NAME.test(name)) throw new AdminError('invalid', 'bad_name', 'token names are 1-64 characters: letters, digits, space and ._:@()-');
    if (!isRole(input.role)) throw new AdminError('invalid', 'bad_role', 'role must be admin, operator, auditor or nac');
    const days = input.days ?? Math.min(this.limits.defaultDays, this.limits.maxDays);
    if (!Number.isInteger(days) || days < 1 || days > this.limits.maxDays) {
      throw new AdminError('invalid', 'bad_expiry', `a token lives 1 to ${this.limits.maxDays} days`);
    }
    const id = crypto.randomBytes(8).toString('hex');
    const secret = crypto.randomBytes(32).toString('base64url');
    const now = new Date();
    const rec: TokenRecord = {
      id, secretHash: digest(secret), name, role: input.role, createdAt: now.toISOString(), createdBy: `${ctx.actor.type}:${ctx.actor.id}`,
      expiresAt: new Date(now.getTime() + days * 86_400_000).toISOString(), revokedAt: null, revokedBy: null, lastUsedAt: null,
    };
    this.db.write(() => {
      this.store.insertToken(rec);
      this.audit.record({ ...ctx, action: 'admin.token.created', target: { type: 'api_token', id }, details: { name, role: input.role, expiresAt: rec.expiresAt } });
    });
    return { token: `ward_${id}_${secret}`, ...tokenView(rec, now) };
  }

  /** Checks a bearer token; the caller records the refusal (with the request's route) or the use. */
  check(bearer: string, now = new Date()): TokenCheck {
    const m = TOKEN.exec(bearer);
    if (!m) return { ok: false, why: 'malformed' };
    const [, id, secret] = m;
    const token = this.store.token(id);
    if (!token) return { ok: false, why: 'unknown', id };
    if (!sameSecret(digest(secret).toString('hex'), token.secretHash.toString('hex'))) return { ok: false, why: 'wrong secret', id };
    if (token.revokedAt) return { ok: false, why: 'revoked', id };
    if (token.expiresAt <= now.toISOString()) return { ok: false, why: 'expired', id };
    return { ok: true, token };
  }

  /** One audit event a use (issue 8: "every token use"), with the last-used time in the same transaction. */
  recordUse(token: TokenRecord, ctx: AuditContext, request: { method: string; route: string; status: number }): void {
    this.db.write(() => {
      this.store.markTokenUsed(token.id, new Date().toISOString());
      this.audit.record({
        ...ctx, action: 'admin.token.used', target: { type: 'api_token', id: token.id },
        outcome: request.status < 400 ? 'success' : 'failure',
        reason: request.status < 400 ? null : `answered ${request.status}`,
        details: { name: token.name, role: token.role, method: request.method, route: request.route, status: request.status },
      });
    });
  }

  revoke(id: string, ctx: AuditContext): TokenView {
    return this.db.write(() => {
      const t = this.store.token(id);
      if (!t) throw new AdminError('not_found', 'no_such_token', `no API token ${JSON.stringify(id.slice(0, 32))}`);
      if (t.revokedAt) throw new AdminError('conflict', 'already_revoked', `API token ${id} was revoked at ${t.revokedAt}`);
      const at = new Date().toISOString();
      const by = `${ctx.actor.type}:${ctx.actor.id}`;
      this.store.revokeToken(id, at, by);
      this.audit.record({ ...ctx, action: 'admin.token.revoked', target: { type: 'api_token', id }, details: { name: t.name, role: t.role } });
      return tokenView({ ...t, revokedAt: at, revokedBy: by });
    });
  }
}
