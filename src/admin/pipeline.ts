// What every /api/v1 request goes through, top to bottom: who is asking (session cookie or bearer
// token), may that role call this route (the route table), CSRF for cookie-authenticated changes,
// parameter / query / body validation (ajv), then the handler. Refusals are audit events.
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { Context } from 'koa';
import { type AuditActor, type AuditContext, type AuditLog } from '../audit';
import { HttpError, auditContextOf, readBody, readJson } from '../http';
import { AdminError, STATUS_OF } from './errors';
import { DeviceActionRefused } from './domains';
import { type Role } from './roles';
import { type RouteSpec, allowed } from './routes';
import { type JsonSchema, NAMED_SCHEMAS, PARAMS, QUERY_SCHEMAS } from './schemas';
import { type AdminSessions, SESSION_COOKIE, sameSecret } from './sessions';
import type { ApiTokens, TokenCheck } from './tokens';
import type { SessionRecord, TokenRecord } from './store';

export interface Principal {
  kind: 'session' | 'token';
  role: Role;
  /** User name, or the API token's name. */
  name: string;
  actor: AuditActor;
  expiresAt: string;
  csrfToken?: string;
  session?: SessionRecord;
  sessionCookie?: string;
  token?: TokenRecord;
}

export interface ApiRequest {
  ctx: Context;
  route: RouteSpec;
  principal?: Principal;
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: any;
  /** Who acts, from where, which request: for every service call that records an event. */
  audit: AuditContext;
}

/** A non-default answer (another status, a binary body, extra headers). */
export class Reply {
  constructor(
    readonly body: unknown,
    readonly opts: { status?: number; type?: string; headers?: Record<string, string> } = {},
  ) {}
}

export type Handler = (req: ApiRequest) => unknown | Promise<unknown>;

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function schemaValidator(coerce: boolean, schemas: Record<string, JsonSchema>) {
  const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true, useDefaults: true, coerceTypes: coerce });
  // RFC 3339 date-time (what OpenAPI means by format: date-time).
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)) });
  const cache = new Map<string, ValidateFunction>();
  return (name: string): ValidateFunction => {
    let v = cache.get(name);
    if (!v) {
      const schema = schemas[name];
      if (!schema) throw new Error(`admin: no schema named ${name}`);
      v = ajv.compile(schema);
      cache.set(name, v);
    }
    return v;
  };
}

export const bodySchema = schemaValidator(false, NAMED_SCHEMAS);
export const querySchema = schemaValidator(true, QUERY_SCHEMAS);

export function describeAjvError(e: ErrorObject, what: string): string {
  const where = e.instancePath ? `${what}${e.instancePath.replace(/\//g, '.')}` : what;
  if (e.keyword === 'additionalProperties') return `${where}: unknown property ${JSON.stringify((e.params as { additionalProperty: string }).additionalProperty)}`;
  if (e.keyword === 'required') return `${where}: ${(e.params as { missingProperty: string }).missingProperty} is required`;
  if (e.keyword === 'enum') return `${where}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  return `${where}: ${e.message ?? 'is invalid'}`;
}

function cookieOf(ctx: Context, name: string): string | undefined {
  for (const part of (ctx.get('cookie') || '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export interface PipelineDeps {
  audit: AuditLog;
  sessions: AdminSessions;
  tokens: ApiTokens;
  bodyLimit: number;
  uploadLimit: number;
}

export function sessionCookieOf(ctx: Context): string | undefined {
  return cookieOf(ctx, SESSION_COOKIE);
}

/** Wraps one route's handler in authentication, authorization, CSRF and validation. */
export function pipeline(route: RouteSpec, handler: Handler, deps: PipelineDeps) {
  const denied = (ctx: Context, p: Principal | undefined, reason: string, code: string, message: string): never => {
    deps.audit.record({
      ...auditContextOf(ctx, p?.actor ?? { type: 'admin', id: 'anonymous' }), action: 'admin.access.denied', outcome: 'failure', reason,
      details: { route: route.id, method: ctx.method, path: ctx.path, role: p?.role ?? null, credential: p?.kind ?? null },
    });
    throw new HttpError(403, code, message);
  };

  return async function adminRoute(ctx: Context): Promise<void> {
    let principal: Principal | undefined;
    let status = 500;
    try {
      // A browser always sends Origin on a cross-site POST: refuse those before anything else (sign-in included).
      const origin = ctx.get('origin');
      if (UNSAFE.has(ctx.method) && origin && origin !== `${ctx.protocol}://${ctx.host}`) {
        denied(ctx, undefined, `cross-origin request from ${origin.slice(0, 100)}`, 'csrf_failed', 'cross-origin request refused');
      }
      if (route.roles !== 'public') {
        principal = authenticate(ctx, route, deps);
        if (!allowed(route, principal.role, principal.kind)) {
          if (route.person && principal.kind !== 'session') {
            denied(ctx, principal, `${route.id} needs a person signed in, not an API token`, 'person_required', 'this action needs a person signed in to the console, not an API token');
          }
          denied(ctx, principal, `role ${principal.role} may not ${route.id}`, 'forbidden', `the ${principal.role} role may not do this`);
        }
        if (principal.kind === 'session' && UNSAFE.has(ctx.method)) {
          const given = ctx.get('x-csrf-token');
          if (!given || !sameSecret(given, principal.csrfToken!)) denied(ctx, principal, 'missing or wrong CSRF token', 'csrf_failed', 'send the X-CSRF-Token header from GET /api/v1/session');
        }
      }
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(ctx.params ?? {})) {
        const pattern = (PARAMS[k] as { pattern?: string } | undefined)?.pattern;
        if (pattern && !new RegExp(pattern).test(String(v))) throw new HttpError(400, 'invalid_parameter', `${k}: not a valid ${k}`);
        params[k] = String(v);
      }
      let query: Record<string, unknown> = {};
      if (route.query) {
        query = Object.fromEntries(Object.entries(ctx.query).map(([k, v]) => [k, Array.isArray(v) ? v[v.length - 1] : v]));
        const validate = querySchema(route.query);
        if (!validate(query)) throw new HttpError(400, 'invalid_query', describeAjvError(validate.errors![0], 'query'));
      }
      let body: unknown;
      if (route.body) {
        body = await readJson(ctx, deps.bodyLimit);
        const validate = bodySchema(route.body);
        if (!validate(body)) throw new HttpError(400, 'invalid_body', describeAjvError(validate.errors![0], 'body'));
      } else if (route.rawBody) {
        body = await readBody(ctx, deps.uploadLimit, [route.rawBody.contentType, 'application/octet-stream']);
      }
      const auditCtx = auditContextOf(ctx, principal?.actor ?? { type: 'admin', id: 'anonymous' });
      const result = await handler({ ctx, route, principal, params, query, body, audit: auditCtx });
      if (result instanceof Reply) {
        ctx.status = result.opts.status ?? route.ok.status;
        if (result.opts.type) ctx.type = result.opts.type;
        for (const [k, v] of Object.entries(result.opts.headers ?? {})) ctx.set(k, v);
        ctx.body = result.body;
      } else if (result === undefined) {
        ctx.status = 204;
      } else {
        ctx.status = route.ok.status;
        ctx.body = result;
      }
      status = ctx.status;
    } catch (e) {
      const mapped = asHttpError(e);
      status = mapped?.status ?? 500;
      throw mapped ?? e;
    } finally {
      if (principal?.kind === 'token') {
        deps.tokens.recordUse(principal.token!, auditContextOf(ctx, principal.actor), { method: ctx.method, route: route.id, status });
      }
    }
  };
}

const DOMAIN_CODES: Record<string, [number, string]> = {
  'bad-request': [400, 'bad_request'],
  'not-found': [404, 'not_found'],
  conflict: [409, 'conflict'],
  gone: [410, 'gone'],
  unavailable: [503, 'unavailable'],
};

/** Domain refusals as JSON 4xx answers; anything else stays an error (500, logged). */
export function asHttpError(e: unknown): HttpError | undefined {
  if (e instanceof HttpError) return e;
  if (e instanceof AdminError) return new HttpError(STATUS_OF[e.kind], e.code, e.reason);
  if (e instanceof DeviceActionRefused) return new HttpError(e.status, e.code, e.reason);
  // The other domains' refusals (PkiError, ScepAdminError, AppleError, PolicyError...): an Error with one of these codes.
  const code = (e as { code?: unknown })?.code;
  if (e instanceof Error && typeof code === 'string' && Object.hasOwn(DOMAIN_CODES, code)) {
    const [status, name] = DOMAIN_CODES[code];
    return new HttpError(status, name, e.message);
  }
  return undefined;
}

function authenticate(ctx: Context, route: RouteSpec, deps: PipelineDeps): Principal {
  const authz = ctx.get('authorization');
  if (authz) {
    const m = /^Bearer\s+(\S+)$/i.exec(authz);
    const check: TokenCheck = m ? deps.tokens.check(m[1]) : { ok: false, why: 'malformed' };
    if (!check.ok) {
      deps.audit.record({
        ...auditContextOf(ctx, { type: 'admin', id: check.id ? `token:${check.id}` : 'unknown' }),
        action: 'admin.token.rejected', outcome: 'failure', reason: `token ${check.why}`,
        target: check.id ? { type: 'api_token', id: check.id } : null,
        details: { route: route.id, method: ctx.method },
      });
      // RFC 6750 section 3: the challenge names the error.
      throw new HttpError(401, 'invalid_token', `the API token is ${check.why === 'wrong secret' || check.why === 'unknown' ? 'not valid' : check.why}`, {
        'WWW-Authenticate': 'Bearer realm="ward", error="invalid_token"',
      });
    }
    const t = check.token;
    return { kind: 'token', role: t.role, name: t.name, actor: { type: 'admin', id: `token:${t.id}` }, expiresAt: t.expiresAt, token: t };
  }
  const cookie = sessionCookieOf(ctx);
  const resolved = deps.sessions.resolve(cookie, auditContextOf(ctx, { type: 'admin', id: 'anonymous' }));
  if (resolved.status === 'active') {
    return {
      kind: 'session', role: resolved.user.role, name: resolved.user.username, actor: { type: 'admin', id: resolved.user.username },
      expiresAt: resolved.session.expiresAt, csrfToken: resolved.csrfToken, session: resolved.session, sessionCookie: cookie,
    };
  }
  if (resolved.status === 'expired') {
    throw new HttpError(401, 'session_expired', resolved.why === 'idle' ? 'signed out after a period without activity; sign in again' : 'the session reached its maximum length; sign in again');
  }
  throw new HttpError(401, 'unauthenticated', 'sign in (POST /api/v1/session) or send Authorization: Bearer <API token>', {
    'WWW-Authenticate': 'Bearer realm="ward"',
  });
}
