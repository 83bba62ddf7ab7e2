import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { STORAGE_ANSWERS, storageTrouble } from '../db';

/** An answer for the client: status, a stable error code, and a human reason (never internals). */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    readonly reason: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(reason);
  }
}

/** The JSON answer to a failure: what errorBoundary and the koa-less routes (exchange.ts) send. */
export interface ErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: { error: string; reason: string; requestId: string | undefined };
}

/** The answer to `e`, logged when it is Ward's fault (500) or the store's (503). */
export function errorAnswer(e: unknown, log: Logger, requestId: string | undefined): ErrorAnswer {
  const err = e as Partial<HttpError> & { status?: number; expose?: boolean; type?: string };
  let status = 500;
  let code = 'internal_error';
  let reason = 'internal error';
  let headers: Record<string, string> = {};
  if (e instanceof HttpError) {
    ({ status, code, reason, headers } = e);
  } else if (typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
    // koa / raw-body client errors (e.g. aborted request)
    status = err.status;
    code = err.type ?? 'bad_request';
    reason = err.expose ? String(err.message) : 'bad request';
  } else {
    const trouble = storageTrouble(e);
    if (trouble) {
      const answer = STORAGE_ANSWERS[trouble];
      ({ code, reason } = answer);
      status = 503;
      headers = { 'Retry-After': String(answer.retryAfterSeconds) };
    }
  }
  if (status === 503) log.warn({ err: (e as Error).message, requestId }, 'request refused: unavailable');
  else if (status >= 500) log.error({ err: e, requestId }, 'request failed');
  return { status, headers, body: { error: code, reason, requestId } };
}

/**
 * Renders every failure as JSON `{error, reason, requestId}`. Protocol modules that have their own
 * error format (SCEP CertRep failures) answer it themselves and never throw here.
 */
export function errorBoundary(log: Logger) {
  return async function errorBoundaryMiddleware(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new HttpError(404, 'not_found', `no route for ${ctx.method} ${ctx.path}`);
      }
    } catch (e) {
      const answer = errorAnswer(e, log, ctx.state.requestId);
      ctx.set(answer.headers);
      ctx.status = answer.status;
      ctx.type = 'application/json';
      ctx.body = answer.body;
    }
  };
}
