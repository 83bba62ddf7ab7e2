import crypto from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import type { AuditActor, AuditContext } from '../audit';
import { HttpError } from './errors';

const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

/** Takes a sane X-Request-Id from a proxy or makes one; echoes it; logs one line per request. */
export function requestLog(log: Logger) {
  return async function requestLogMiddleware(ctx: Context, next: Next): Promise<void> {
    const given = ctx.get('x-request-id');
    const requestId = REQUEST_ID.test(given) ? given : crypto.randomUUID();
    ctx.state.requestId = requestId;
    // Read once now: the socket can be gone by the time the request is logged or audited.
    ctx.state.sourceAddress = ctx.req.socket?.remoteAddress ?? null;
    ctx.set('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log.info({ requestId, method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 10) / 10, ip: ctx.state.sourceAddress }, 'request');
    }
  };
}

/** Security headers every answer carries (the console and API are same-origin only). */
export async function securityHeaders(ctx: Context, next: Next): Promise<void> {
  await next();
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  if (!ctx.response.get('Cache-Control')) ctx.set('Cache-Control', 'no-store');
}

/**
 * Reads the raw request body, refusing more than `limit` bytes (413) before buffering it all.
 * Optional `types`: accepted Content-Type values (415 otherwise).
 */
export async function readBody(ctx: Context, limit: number, types?: string[]): Promise<Buffer> {
  if (types) {
    const type = (ctx.get('content-type') || '').split(';')[0].trim().toLowerCase();
    if (!types.includes(type)) {
      throw new HttpError(415, 'unsupported_media_type', `Content-Type must be ${types.join(' or ')}`);
    }
  }
  const declared = Number(ctx.get('content-length') || '0');
  if (declared > limit) {
    // Discard what the client is still sending so it reads our 413 instead of a connection reset.
    ctx.req.resume();
    throw new HttpError(413, 'payload_too_large', `request body is larger than ${limit} bytes`);
  }
  // Read with listeners, not for-await: leaving a for-await loop at the limit left the rest of the
  // body unread on a keep-alive connection, and the client's next request on it hung, then was reset.
  const req = ctx.req;
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      req.off('data', onData);
      req.resume(); // discard the rest (flowing, no listener)
      reject(new HttpError(413, 'payload_too_large', `request body is larger than ${limit} bytes`));
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, size)));
    req.once('error', reject);
    req.once('close', () => {
      if (!req.complete) reject(Object.assign(new Error('request body aborted by the client'), { code: 'ECONNRESET' }));
    });
  });
}

// RFC 7493 (I-JSON) section 2.1: no lone surrogates in strings or member names. A "\ud800" escape
// is valid JSON, but what a request carries ends up in audit records, which are RFC 8785 canonical
// JSON and cannot hold one: refused at the door instead of failing deep inside (found by fuzzing).
const isWellFormed = (s: string) => (s as unknown as { isWellFormed(): boolean }).isWellFormed();
function iJson(key: string, value: unknown): unknown {
  if (!isWellFormed(key) || (typeof value === 'string' && !isWellFormed(value))) throw new SyntaxError('a string holds a lone UTF-16 surrogate (not I-JSON, RFC 7493)');
  return value;
}

/** A JSON (I-JSON) request body; 400 with a reason when it does not parse. */
export function parseJsonBody(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'), iJson);
  } catch (e) {
    throw new HttpError(400, 'invalid_json', `request body is not valid JSON: ${(e as Error).message.slice(0, 120)}`);
  }
}

/** JSON body with a size limit (parseJsonBody). */
export async function readJson(ctx: Context, limit: number): Promise<unknown> {
  return parseJsonBody(await readBody(ctx, limit, ['application/json']));
}

/** The audit context of a request: who acts, from which address, under which request id. */
export function auditContextOf(ctx: Context, actor: AuditActor): AuditContext {
  return { actor, source: ctx.state.sourceAddress ?? null, requestId: ctx.state.requestId ?? null };
}
