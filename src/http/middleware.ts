import crypto from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, Next } from 'koa';
import type { AuditActor, AuditContext } from '../audit';
import type { AccessLog } from '../config';
import { HttpError } from './errors';

const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

/** A sane X-Request-Id from a proxy, or a fresh one. */
export function requestIdOf(given: string | undefined): string {
  return given !== undefined && REQUEST_ID.test(given) ? given : crypto.randomUUID();
}

/** Takes a sane X-Request-Id from a proxy or makes one; echoes it; logs one line per request. */
export function requestLog(accessLog: AccessLog) {
  return async function requestLogMiddleware(ctx: Context, next: Next): Promise<void> {
    const requestId = requestIdOf(ctx.get('x-request-id'));
    ctx.state.requestId = requestId;
    // Read once now: the socket can be gone by the time the request is logged or audited.
    ctx.state.sourceAddress = ctx.req.socket?.remoteAddress ?? null;
    ctx.set('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      accessLog.request(requestId, ctx.method, ctx.path, ctx.status, Number(process.hrtime.bigint() - started) / 1e6, ctx.state.sourceAddress);
    }
  };
}

/** Headers every answer carries (the console and API are same-origin only). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = { 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' };
/** Cache-Control of every answer that sets none itself. */
export const DEFAULT_CACHE_CONTROL = 'no-store';

/** SECURITY_HEADERS and the default Cache-Control on every koa answer. */
export async function securityHeaders(ctx: Context, next: Next): Promise<void> {
  await next();
  ctx.set(SECURITY_HEADERS);
  if (!ctx.response.get('Cache-Control')) ctx.set('Cache-Control', DEFAULT_CACHE_CONTROL);
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
  return readRequestBody(ctx.req, ctx.res, limit);
}

/** readBody on node:http's own objects (the koa-less routes of exchange.ts read bodies too). */
export function readRequestBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] || '0');
  const waitsForContinue = /100-continue/i.test(req.headers.expect ?? '');
  if (declared > limit) return Promise.reject(tooLarge(req, res, limit));
  // The listeners hold back "100 Continue" (listeners.ts): ask for the body only now that it is wanted.
  if (waitsForContinue) res.writeContinue();
  // Events rather than `for await`: the async iterator costs a promise a chunk, on every check-in.
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (settle: () => void) => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      settle();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) done(() => reject(tooLarge(req, res, limit)));
      else chunks.push(chunk);
    };
    const onEnd = () => done(() => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    const onError = (e: Error) => done(() => reject(e));
    const onClose = () => done(() => reject(new HttpError(400, 'request_aborted', 'the client closed the connection before the whole body arrived')));
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/** How long a connection is still read (and what arrives dropped) after a 413 that closes it. */
const LINGER_MS = 2000;

/**
 * 413 for a body over the limit, never read into memory. The connection closes after the answer, in
 * stages (RFC 9112 section 9.6): our side first, then what the client still sends is read and dropped
 * for a moment, so that it reads the 413 instead of a reset (closing with unread data sends RST).
 */
function tooLarge(req: IncomingMessage, res: ServerResponse, limit: number): HttpError {
  const socket = req.socket;
  res.setHeader('Connection', 'close');
  req.resume();
  // Node ends a "Connection: close" answer with socket.destroySoon(): end, then destroy at once.
  socket.destroySoon = () => {
    socket.end();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  };
  return new HttpError(413, 'payload_too_large', `request body is larger than ${limit} bytes`);
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
