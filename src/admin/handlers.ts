// One small handler a route (keyed by the route table's id): take the validated input, call a
// service, shape the answer. Authorization and validation already happened in pipeline.ts.
import type { WardConfig } from '../config';
import type { Health } from '../http';
import { HttpError } from '../http';
import type { CertificateAuthority, CertificateRecord, RevocationReason } from '../pki';
import type { AdminAccounts } from './accounts';
import type { DeviceOperations } from './devices';
import type { AdminDomains, DeviceAction } from './domains';
import { openApiDocument } from './openapi';
import { type ApiRequest, type Handler, Reply, sessionCookieOf } from './pipeline';
import type { RouteSpec } from './routes';
import { type AdminSessions, SESSION_COOKIE } from './sessions';
import type { ApiTokens } from './tokens';
import type { AdminConfig } from '../config/sections/admin';
import crypto from 'node:crypto';
import type { ComplianceLookup } from './domains';

type Found = Awaited<ReturnType<ComplianceLookup['lookup']>>;

/** The NAC answer: the compliance domain's verdict in full, or "unknown key" (never a 404 a RADIUS policy could misread). */
export function nacAnswer(key: string, found: Found) {
  if (!found) {
    return {
      key, known: false, matchedBy: null, deviceId: null, compliant: false, quarantine: false, status: 'unknown',
      reasons: ['no enrolled device matches this key'], policy: null, evaluatedAt: null, validUntil: null,
    };
  }
  return {
    key, known: true, matchedBy: found.matchedBy ?? null, deviceId: found.deviceId, compliant: found.compliant, quarantine: found.quarantine ?? false,
    status: found.status ?? (found.compliant ? 'compliant' : 'noncompliant'), reasons: found.reasons, policy: found.policy ?? null,
    evaluatedAt: found.evaluatedAt, validUntil: found.validUntil ?? null,
  };
}

/**
 * Cache headers of a NAC answer: cached for admin.nacCacheSeconds but never past validUntil (when
 * a grace period ends or the offline limit passes, the answer changes by the clock alone); an
 * unknown key is not cached (the device may be enrolling now). The ETag names the answer.
 */
export function nacCaching(answer: ReturnType<typeof nacAnswer>, cacheSeconds: number, secondsValid: number | null): { 'Cache-Control': string; ETag: string } {
  let maxAge = answer.known ? cacheSeconds : 0;
  if (secondsValid !== null) maxAge = Math.min(maxAge, Math.max(0, Math.floor(secondsValid)));
  const etag = `"${crypto.createHash('sha256').update(JSON.stringify(answer)).digest('base64url').slice(0, 27)}"`;
  return { 'Cache-Control': maxAge > 0 ? `private, max-age=${maxAge}` : 'no-store', ETag: etag };
}

export interface HandlerServices {
  cfg: WardConfig;
  admin: AdminConfig;
  ca: CertificateAuthority;
  health: Health;
  accounts: AdminAccounts;
  sessions: AdminSessions;
  tokens: ApiTokens;
  devices: DeviceOperations;
  domains: AdminDomains;
  version: string;
  served(): RouteSpec[];
}

const cookieHeader = (value: string, maxAge?: number) =>
  `${SESSION_COOKIE}=${value}; Path=/; Secure; HttpOnly; SameSite=Strict${maxAge === undefined ? '' : `; Max-Age=${maxAge}`}`;

function certificateView(r: CertificateRecord, now = new Date().toISOString()) {
  const { der: _der, ...rest } = r;
  const status = r.issuer !== 'issuing' ? 'ca' : r.revokedAt ? 'revoked' : r.notAfter < now ? 'expired' : r.notBefore > now ? 'not-yet-valid' : 'valid';
  return { ...rest, status };
}

const need = <T>(v: T | undefined, what: string): T => {
  if (v === undefined) throw new HttpError(503, 'unavailable', `${what} is not available on this Ward`);
  return v;
};

export function handlers(s: HandlerServices): Record<string, Handler> {
  const deviceAction = (kind: 'lock' | 'restart' | 'refresh') => async ({ params, body, audit }: ApiRequest) => {
    const action: Exclude<DeviceAction, { kind: 'wipe' }> = kind === 'lock' ? { kind, message: body?.message, phoneNumber: body?.phoneNumber } : { kind };
    return s.devices.act(params.deviceId, action, audit);
  };

  return {
    openapi: () => openApiDocument(s.served(), { version: s.version, serverUrl: s.cfg.https.publicUrl }),

    'session.create': async ({ ctx, body, audit }) => {
      const previous = sessionCookieOf(ctx);
      const result = await s.accounts.signIn({ username: body.username, password: body.password, code: body.code }, { ...audit, actor: { type: 'admin', id: 'anonymous' } });
      if (!result.ok) {
        throw new HttpError(401, 'sign_in_failed', 'wrong user name, password or code, or the account is locked for a while');
      }
      if (previous) s.sessions.end(previous, { ...audit, actor: { type: 'admin', id: result.user.username } });
      return new Reply(
        {
          kind: 'session', username: result.user.username, role: result.user.role, csrfToken: result.session.csrfToken,
          expiresAt: result.session.expiresAt, idleMinutes: s.sessions.times.idleMinutes,
        },
        { headers: { 'Set-Cookie': cookieHeader(result.session.cookie) } },
      );
    },
    'session.read': ({ principal }) => ({
      kind: principal!.kind, username: principal!.name, role: principal!.role, expiresAt: principal!.expiresAt,
      ...(principal!.kind === 'session' ? { csrfToken: principal!.csrfToken, idleMinutes: s.sessions.times.idleMinutes } : {}),
    }),
    'session.delete': ({ principal, audit }) => {
      s.sessions.end(principal!.sessionCookie!, audit);
      return new Reply(undefined, { status: 204, headers: { 'Set-Cookie': cookieHeader('', 0) } });
    },
    'session.password': async ({ principal, body, audit }) => {
      await s.accounts.changeOwnPassword(principal!.name, body.current, body.password, audit, principal!.session!.idHash);
      return undefined;
    },
    dashboard: async () => {
      const report = s.health.report();
      const alarms = Object.entries(report.checks).filter(([, c]) => !c.ok).map(([check, c]) => ({ check, details: c.details ?? {} }));
      let devices: Record<string, unknown> | null = null;
      let recentCheckins: unknown[] = [];
      if (s.domains.fleets?.length) {
        const byPlatform: Record<string, number> = {};
        let total = 0;
        for (const f of s.domains.fleets) {
          const page = await f.list({ limit: 1, offset: 0 });
          byPlatform[f.platform] = (byPlatform[f.platform] ?? 0) + page.total;
          total += page.total;
        }
        devices = { total, byPlatform };
        recentCheckins = (await s.devices.list({ sort: 'lastSeen', limit: 10, offset: 0 })).devices.filter((d) => d.lastSeenAt);
      }
      const compliance = s.domains.compliance ? await s.domains.compliance.summary() : null;
      // The APNs push certificate as the apple health check reports it (topic, expiry): it expires
      // yearly, and a lapsed one silently stops every wake-up.
      const pushCertificate = (report.checks.apple?.details as { pushCertificate?: unknown } | undefined)?.pushCertificate ?? null;
      return {
        devices, compliance, recentCheckins, alarms, pushCertificate,
        pendingWipeRequests: s.domains.fleets?.length ? s.devices.wipeRequests({ status: 'pending', limit: 500 }).length : 0,
        available: {
          devices: !!s.domains.fleets?.length, platforms: s.devices.platforms, compliance: !!s.domains.compliance, policies: !!s.domains.policies,
          challenges: !!s.domains.challenges, appleEnrollment: !!s.domains.appleEnrollment, androidEnrollment: !!s.domains.androidEnrollment,
          auditBundles: !!s.domains.auditBundles, auditEvents: !!s.domains.auditEvents, twoPersonWipe: s.admin.wipe.requireSecondAdmin,
        },
      };
    },

    'users.list': () => ({ users: s.accounts.list() }),
    'users.create': ({ body, audit }) => s.accounts.create({ username: body.username, role: body.role, password: body.password }, audit),
    'users.read': ({ params }) => s.accounts.get(params.username),
    'users.update': ({ params, body, audit }) => {
      let view = s.accounts.get(params.username);
      if (body.role !== undefined) view = s.accounts.setRole(params.username, body.role, audit);
      if (body.disabled !== undefined) view = s.accounts.setDisabled(params.username, body.disabled, audit);
      return view;
    },
    'users.password': async ({ params, body, audit }) => {
      await s.accounts.setPassword(params.username, body.password, audit);
      return undefined;
    },
    'users.totp': ({ params, audit }) => s.accounts.resetTotp(params.username, audit),
    'users.unlock': ({ params, audit }) => s.accounts.unlock(params.username, audit),

    'tokens.list': () => ({ tokens: s.tokens.list() }),
    'tokens.create': ({ body, audit }) => s.tokens.create({ name: body.name, role: body.role, days: body.days }, audit),
    'tokens.revoke': ({ params, audit }) => s.tokens.revoke(params.tokenId, audit),

    'certificates.list': ({ query }) => {
      const limit = query.limit as number;
      const offset = query.offset as number;
      const now = new Date().toISOString();
      return { certificates: s.ca.listCertificates({ profile: query.profile as string | undefined, limit, offset }).map((r) => certificateView(r, now)), limit, offset };
    },
    'certificates.read': ({ params }) => {
      const rec = s.ca.certificate(params.serial);
      if (!rec) throw new HttpError(404, 'not_found', `no certificate with serial ${params.serial}`);
      const pem = `-----BEGIN CERTIFICATE-----\n${rec.der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
      return { ...certificateView(rec), pem };
    },
    'certificates.revoke': ({ params, body, audit }) => certificateView(s.ca.revoke(params.serial, (body.reason ?? 'unspecified') as RevocationReason, audit)),

    'enrollment.read': () => ({
      caFingerprint: s.ca.rootFingerprint(),
      caUrl: `${s.cfg.http.publicUrl}/ca.pem`,
      scepUrl: `${s.cfg.http.publicUrl}/scep`,
      available: { challenges: !!s.domains.challenges, apple: !!s.domains.appleEnrollment, android: !!s.domains.androidEnrollment },
    }),
    'enrollment.challenge': async ({ body, audit }) => {
      const c = await need(s.domains.challenges, 'SCEP').issue({ ttlMinutes: body.ttlMinutes, boundTo: body.boundTo }, audit);
      return { id: c.id, challenge: c.challenge, expiresAt: c.expiresAt };
    },
    'enrollment.apple': ({ body, audit }) =>
      need(s.domains.appleEnrollment, 'Apple enrollment').enrollmentLink({ singleUse: body.singleUse, ttlMinutes: body.ttlMinutes, group: body.group }, audit),
    'enrollment.android': async ({ ctx, body, audit }) => {
      const p = await need(s.domains.androidEnrollment, 'Android enrollment').provisioning(
        { mode: body.mode, ttlMinutes: body.ttlMinutes, maxDevices: body.maxDevices, group: body.group },
        audit,
      );
      if (ctx.accepts('application/json', 'image/png') === 'image/png') return new Reply(p.png, { type: 'image/png' });
      return { payload: p.payload, png: p.png.toString('base64'), expiresAt: p.expiresAt };
    },

    'devices.list': async ({ query }) => {
      const q = {
        q: query.q as string | undefined, platform: query.platform as 'apple' | 'android' | undefined, compliant: query.compliant as boolean | undefined,
        sort: query.sort as 'name' | 'lastSeen', limit: query.limit as number, offset: query.offset as number,
      };
      const page = await s.devices.list(q);
      return { ...page, limit: q.limit, offset: q.offset };
    },
    'devices.read': async ({ params }) => {
      const { device } = await s.devices.need(params.deviceId);
      return { ...device, pendingWipe: s.devices.pendingWipe(device.id) };
    },
    'devices.commands': async ({ params, query }) => ({ commands: await s.devices.commands(params.deviceId, query.limit as number) }),
    'devices.hipaaReport': async ({ ctx, params, query }) => {
      const compliance = need(s.domains.compliance, 'compliance');
      const report = await compliance.hipaaReport(params.deviceId);
      if (!report) throw new HttpError(404, 'no_such_device', `no device ${JSON.stringify(params.deviceId)} has reported facts to Ward`);
      const text = query.format ? query.format === 'text' : ctx.accepts('application/json', 'text/plain') === 'text/plain';
      return text ? new Reply(compliance.hipaaReportText(report), { type: 'text/plain; charset=utf-8' }) : report;
    },
    'devices.history': async ({ params, query }) => {
      await s.devices.need(params.deviceId);
      const events = await need(s.domains.auditEvents, 'the audit log').events({ ...(query as { limit: number }), target: { type: 'device', id: params.deviceId } });
      return { events };
    },
    'devices.lock': deviceAction('lock'),
    'devices.restart': deviceAction('restart'),
    'devices.refresh': deviceAction('refresh'),
    'devices.wipe': async ({ params, body, audit }) => s.devices.requestWipe(params.deviceId, { mode: body.mode, reason: body.reason }, audit),
    'wipes.list': ({ query }) => ({ wipeRequests: s.devices.wipeRequests({ status: query.status as 'pending' | undefined, limit: query.limit as number }) }),
    'wipes.approve': ({ params, audit }) => s.devices.approveWipe(params.wipeRequestId, audit),
    'wipes.reject': ({ params, body, audit }) => s.devices.rejectWipe(params.wipeRequestId, body.reason, audit),

    'compliance.summary': () => need(s.domains.compliance, 'compliance').summary(),
    'compliance.lookup': async ({ ctx, params }) => {
      const found = await need(s.domains.compliance, 'compliance').lookup(params.key);
      const answer = nacAnswer(params.key, found);
      const headers = nacCaching(answer, s.admin.nacCacheSeconds, found?.secondsValid ?? null);
      // RFC 9110 section 13.1.2: If-None-Match lists entity tags, weak ones compared weakly.
      const given = (ctx.get('if-none-match') || '').split(',').map((e) => e.trim().replace(/^W\//, ''));
      if (given.includes(headers.ETag) || given.includes('*')) return new Reply(undefined, { status: 304, headers });
      return new Reply(answer, { headers });
    },

    'policies.list': async () => ({ policies: await need(s.domains.policies, 'policy').list() }),
    'policies.read': async ({ params }) => {
      const p = await need(s.domains.policies, 'policy').get(params.policyId);
      if (!p) throw new HttpError(404, 'not_found', `no policy ${params.policyId}`);
      return p;
    },
    'policies.assign': ({ params, body, audit }) => need(s.domains.policies, 'policy').assign(params.policyId, body.groups, audit),

    'audit.events': async ({ query }) => ({ events: await need(s.domains.auditEvents, 'the audit log').events(query as { limit: number }) }),
    'audit.export': async ({ body, audit }) => {
      const out = await need(s.domains.auditBundles, 'audit export').exportBundle({ since: body.since, until: body.until }, audit);
      const stamp = new Date().toISOString().replace(/[-:]/g, '').slice(0, 15);
      return new Reply(out.bundle, {
        type: 'application/x-tar',
        headers: { 'Content-Disposition': `attachment; filename="ward-audit-${stamp}Z.tar"`, 'X-Ward-Range': `${out.range.start}-${out.range.end}` },
      });
    },
    'audit.verify': async ({ body, audit }) => need(s.domains.auditBundles, 'audit verification').verifyBundle(body as Buffer, undefined, audit),
  };
}

