import type { Context, Next } from 'koa';
import type { Logger } from 'pino';

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
      const err = e as Partial<HttpError> & { status?: number; expose?: boolean; type?: string };
      let status = 500;
      let code = 'internal_error';
      let reason = 'internal error';
      if (e instanceof HttpError) {
        ({ status, code, reason } = e);
        for (const [k, v] of Object.entries(e.headers)) ctx.set(k, v);
      } else if (typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
        // koa / raw-body client errors (e.g. aborted request)
        status = err.status;
        code = err.type ?? 'bad_request';
        reason = err.expose ? String(err.message) : 'bad request';
      } else if (isSqliteBusy(e)) {
        status = 503;
        code = 'busy';
        reason = 'the database is busy; retry shortly';
        ctx.set('Retry-After', '2');
      } else if (isDiskFull(e)) {
        status = 503;
        code = 'storage_full';
        reason = 'the appliance is out of storage; nothing was changed';
        ctx.set('Retry-After', '30');
      }
      if (status >= 500) log.error({ err: e, requestId: ctx.state.requestId }, 'request failed');
      ctx.status = status;
      ctx.type = 'application/json';
      ctx.body = { error: code, reason, requestId: ctx.state.requestId };
    }
  };
}

function isSqliteBusy(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code === 'SQLITE_BUSY_SNAPSHOT';
}

function isDiskFull(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'SQLITE_IOERR_WRITE';
}
